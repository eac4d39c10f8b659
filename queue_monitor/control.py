"""The live lane controller: every decision interval, per hall, build the controller's snapshot
from Redis, call ``planning.controller.decide`` and carry out its decision.

Several monitors run side by side; per hall, only the one holding the hall's lease
(``controller_lease_key(hall)``: SET NX PX, renewed at each step, released on a clean stop)
decides, so no command or alert is issued twice. Whatever a step writes (lane state, lane
commands, alerts, the active alerts, the decision summary, the live pushes) is written in one
MULTI/EXEC under WATCH of the lease, the lane state and the active alerts: a monitor that lost its
lease while deciding (a long pause, then another monitor took over) writes nothing.

The snapshot:
- lanes from ``lane_state_key(hall)`` (``queue_monitor.lanes``), created from the hall
  configuration the first time, with opening lanes past ``ready_at`` now open;
- the hall configuration: settings, merged with the run-time override at
  ``hall_config_key(hall)`` (``queue_monitor.hall_config``);
- the schedule at ``schedule_key(hall)`` as arrival waves (``queue_monitor.schedule``);
- arrivals per minute over the last 60 complete minutes (``SharedWaitState``);
- the waiting queue (``queue_waiting_key``): the monitors see one queue per hall, not which
  travellers are heading for the gates, so it is split by the e-gate share (e-gate queue =
  round(waiting x share), the rest at the desks), and the longest wait is given to each
  non-empty part (the conservative reading);
- the waits completed in the last hour (wall clock).

Alerts: a decision states the current need. An ``Alert`` event is published (``STREAM_ALERTS``
and ``CHANNEL_LIVE``) when a kind first appears and kept at ``active_alerts_key(hall)`` (its
message and data refreshed at each decision, not re-published); when the kind is gone a clearing
``Alert`` (severity ``info``, kind ``<kind>-cleared``) is published and the entry removed. The
active alerts live in Redis, so a restarted or another monitor does not raise them again.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast, get_args

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, WatchError

from bordergate.contracts import (
    CHANNEL_LIVE,
    STREAM_ALERTS,
    STREAM_LANE_COMMANDS,
    STREAM_MAXLEN,
    Alert,
    Hall,
    LaneCommand,
    LaneDecisionSummary,
    LaneState,
    active_alerts_key,
    controller_lease_key,
    encode_event,
    lane_decision_key,
    lane_state_key,
)
from queue_monitor.hall_config import HallConfig, effective_config
from queue_monitor.lanes import (
    LaneChange,
    Lanes,
    advance,
    close_lanes,
    counts,
    lane_group,
    open_lanes,
    ordered,
    reconcile,
)
from queue_monitor.planning import controller as planning
from queue_monitor.planning.controller import (
    AlertKind,
    ControlDecision,
    ControllerConfig,
    HallSnapshot,
)
from queue_monitor.schedule import arrival_waves, read_arrivals, weighted_egate_share
from queue_monitor.settings import MonitorSettings
from queue_monitor.store import SharedWaitState

ModelT = TypeVar("ModelT", bound=BaseModel)
ALERT_KINDS: frozenset[str] = frozenset(get_args(AlertKind))

log = structlog.get_logger("queue_monitor.control")

LIVE_KIND_ALERT = "alert"
LIVE_KIND_LANE_STATE = "lane_state"
LIVE_KIND_LANE_DECISION = "lane_decision"
ARRIVALS_WINDOW_MIN = 60
RECENT_WAITS_S = 3600.0
MAX_TRANSACTION_ATTEMPTS = 5


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _multi(pipe: Pipeline) -> None:
    cast(Any, pipe).multi()  # redis-py leaves Pipeline.multi untyped


async def _reset(pipe: Pipeline) -> None:
    await cast(Any, pipe).reset()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def live(kind: str, data: Any) -> str:
    """A ``CHANNEL_LIVE`` message: ``{"kind": ..., "data": ...}``."""
    return json.dumps({"kind": kind, "data": data})


async def read_lanes(redis: Redis, hall: Hall) -> dict[str, LaneState]:
    """The lanes stored for ``hall`` (unreadable entries skipped)."""
    return _parse_lanes(await redis.hgetall(lane_state_key(hall)), hall)


async def read_active_alerts(redis: Redis, hall: Hall) -> dict[str, Alert]:
    """The alerts in force for ``hall``, by kind."""
    return _parse_alerts(await redis.hgetall(active_alerts_key(hall)), hall)


async def read_lane_decision(redis: Redis, hall: Hall) -> LaneDecisionSummary | None:
    """The hall's latest decision summary, or None (none yet, or unreadable)."""
    raw: str | bytes | None = await redis.get(lane_decision_key(hall))
    if raw is None:
        return None
    try:
        return LaneDecisionSummary.model_validate_json(raw)
    except ValueError:
        return None


def _parse_hash(
    raw: Mapping[Any, Any], model: type[ModelT], hall: Hall, what: str
) -> dict[str, ModelT]:
    """A Redis hash of JSON values as models; unreadable entries are logged and skipped."""
    parsed: dict[str, ModelT] = {}
    for key, value in raw.items():
        try:
            parsed[_text(key)] = model.model_validate_json(value)
        except ValueError:
            log.warning(f"{what}_unreadable", hall=str(hall), key=_text(key))
    return parsed


def _parse_lanes(raw: Mapping[Any, Any], hall: Hall) -> dict[str, LaneState]:
    return _parse_hash(raw, LaneState, hall, "lane_state")


def _parse_alerts(raw: Mapping[Any, Any], hall: Hall) -> dict[str, Alert]:
    return _parse_hash(raw, Alert, hall, "active_alert")


@dataclass(frozen=True, slots=True)
class HallInputs:
    """What a decision reads besides the lanes and alerts (read outside the transaction)."""

    config: HallConfig
    snapshot_base: dict[str, Any]
    queue_length: int
    oldest_wait_s: float
    arrivals_last_hour: int
    egate_share: float


def hall_snapshot(
    inputs: HallInputs, lanes: Mapping[str, LaneState], active: Iterable[str]
) -> HallSnapshot:
    """What the planning controller decides on: the inputs, the lanes now and the alert kinds
    in force (kinds already raised clear only with margin, hysteresis as in the simulator)."""
    config = inputs.config
    egate_queue = round(inputs.queue_length * inputs.egate_share)
    officer_queue = inputs.queue_length - egate_queue
    oldest = inputs.oldest_wait_s
    return HallSnapshot(
        **inputs.snapshot_base,
        active_alerts=tuple(cast(AlertKind, k) for k in active if k in ALERT_KINDS),
        egate=lane_group(
            lanes, "egate", config.egates_installed, egate_queue, oldest if egate_queue else 0.0
        ),
        officer=lane_group(
            lanes, "officer", config.officer_desks, officer_queue, oldest if officer_queue else 0.0
        ),
    )


@dataclass(slots=True)
class AlertChanges:
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)
    active: dict[str, Alert] = field(default_factory=dict)


def alert_changes(
    hall: Hall, active: Mapping[str, Alert], decision: ControlDecision, now: datetime
) -> AlertChanges:
    """Alerts to raise (kinds new in the decision), to clear (kinds gone), and the alerts in
    force afterwards (kept ones keep their event id and raise time, with today's numbers)."""
    out = AlertChanges()
    data_common = {
        "share_next_hour_now": _finite(decision.share_next_hour_now),
        "share_next_hour_planned": _finite(decision.share_next_hour_planned),
    }
    for alert in decision.alerts:
        data = {
            "extra_officers": alert.extra_officers,
            "from_time": alert.from_time.isoformat() if alert.from_time else None,
            **data_common,
        }
        kept = active.get(alert.kind)
        if kept is None:
            event = Alert(
                hall=hall,
                severity=alert.severity,
                kind=alert.kind,
                message=alert.message,
                data=data,
                at=now,
            )
            out.raised.append(event)
            out.active[alert.kind] = event
        else:
            out.active[alert.kind] = kept.model_copy(
                update={"message": alert.message, "data": {**data, "updated_at": now.isoformat()}}
            )
    for kind, kept in active.items():
        if kind in out.active:
            continue
        out.cleared.append(
            Alert(
                hall=hall,
                severity="info",
                kind=f"{kind}-cleared",
                message=f"{hall}: {kind} no longer applies",
                data={"raised_at": kept.at.isoformat(), "raised_event_id": kept.event_id},
                at=now,
            )
        )
    return out


@dataclass(slots=True)
class HallOutcome:
    """What one step did for one hall."""

    hall: Hall
    leader: bool
    decision: ControlDecision | None = None
    changes: list[LaneChange] = field(default_factory=list)
    alerts: AlertChanges | None = None
    summary: LaneDecisionSummary | None = None
    decide_ms: float = 0.0
    lanes: Lanes = field(default_factory=dict)  # the hall's lanes after the decision


class LaneController:
    """Decides the lanes of every hall whose lease this monitor holds."""

    def __init__(
        self,
        redis: Redis,
        settings: MonitorSettings,
        state: SharedWaitState | None = None,
        config: ControllerConfig | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.state = state if state is not None else SharedWaitState(redis, settings)
        self.config = config or ControllerConfig(
            decision_interval_min=settings.decision_interval_s / 60.0
        )
        self.token = f"{settings.consumer_name}#{uuid.uuid4().hex[:12]}"
        self.decide_ms: list[float] = []  # the last decisions' durations (bounded)

    # ---- the lease ----------------------------------------------------------------------------

    async def hold_lease(self, hall: Hall) -> bool:
        """Take the hall's lease if free, or renew it if ours; False when another holds it."""
        key = controller_lease_key(hall)
        ttl_ms = self.settings.lease_ttl_ms
        if await self.redis.set(key, self.token, nx=True, px=ttl_ms):
            log.info("controller_lease_taken", hall=str(hall), holder=self.token)
            return True
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                holder = await pipe.get(key)
                if holder is None or _text(holder) != self.token:
                    await _reset(pipe)
                    return False
                _multi(pipe)
                pipe.pexpire(key, ttl_ms)
                await pipe.execute()
                return True
            except WatchError:
                return False

    async def release_leases(self) -> None:
        """Give up the leases this controller holds (a clean stop: another takes over now)."""
        for hall in Hall:
            key = controller_lease_key(hall)
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    holder = await pipe.get(key)
                    if holder is None or _text(holder) != self.token:
                        await _reset(pipe)
                        continue
                    _multi(pipe)
                    pipe.delete(key)
                    await pipe.execute()
                except WatchError:
                    continue

    # ---- one step -----------------------------------------------------------------------------

    async def step(self, now: datetime | None = None) -> list[HallOutcome]:
        """One decision for every hall whose lease this controller holds or takes.

        A failing hall does not stop the others; a Redis error is raised after every hall was
        tried (the caller backs off)."""
        now = now or datetime.now(UTC)
        outcomes: list[HallOutcome] = []
        redis_error: RedisError | None = None
        for hall in Hall:
            try:
                outcomes.append(await self.step_hall(hall, now))
            except RedisError as exc:
                redis_error = redis_error or exc
                log.warning("control_redis_error", hall=str(hall), error=str(exc)[:300])
            except Exception:
                log.exception("control_step_failed", hall=str(hall))
        if redis_error is not None:
            raise redis_error
        return outcomes

    async def step_hall(self, hall: Hall, now: datetime) -> HallOutcome:
        if not await self.hold_lease(hall):
            return HallOutcome(hall, leader=False)
        inputs = await self.read_inputs(hall, now)
        lease = controller_lease_key(hall)
        lanes_key = lane_state_key(hall)
        alerts_key = active_alerts_key(hall)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_TRANSACTION_ATTEMPTS):
                try:
                    await pipe.watch(lease, lanes_key, alerts_key)
                    holder = await pipe.get(lease)
                    if holder is None or _text(holder) != self.token:
                        await _reset(pipe)
                        log.warning("controller_lease_lost", hall=str(hall))
                        return HallOutcome(hall, leader=False)
                    stored = _parse_lanes(await pipe.hgetall(lanes_key), hall)
                    active = _parse_alerts(await pipe.hgetall(alerts_key), hall)
                    outcome, dropped = self._decide(hall, now, inputs, stored, active)
                    _multi(pipe)
                    self._write(pipe, hall, outcome, stored, dropped)
                    await pipe.execute()
                    self._log(outcome)
                    return outcome
                except WatchError:
                    continue
        log.warning("control_conflicts", hall=str(hall))
        return HallOutcome(hall, leader=True)

    async def read_inputs(self, hall: Hall, now: datetime) -> HallInputs:
        config = await effective_config(self.redis, hall, self.settings.halls[hall])
        arrivals = await read_arrivals(self.redis, hall)
        kept = arrival_waves(arrivals, config, now, self.config.horizon_min, ARRIVALS_WINDOW_MIN)
        egate_share = weighted_egate_share(kept, config.egate_share)
        now_s = now.timestamp()
        # Travellers joined longer than visit_ttl_s ago are no longer counted as waiting (their
        # served event was lost); leaving them out also bounds the forecast's backlog grid.
        queue_length, oldest = await self.state.waiting_since(
            hall, now_s - self.settings.visit_ttl_s
        )
        oldest_wait_s = max(0.0, now_s - oldest) if oldest is not None else 0.0
        per_min = await self.state.arrivals_per_minute(hall, int(now_s // 60), ARRIVALS_WINDOW_MIN)
        waits = await self.state.window_waits_between(hall, now_s - RECENT_WAITS_S, now_s)
        base: dict[str, Any] = {
            "hall": str(hall),
            "now": now,
            "params": config.parameters(egate_share),
            "officers_available": config.officers_on_duty,
            "schedule": tuple(wave for _, wave in kept),
            "arrivals_per_min": tuple(per_min),
            "recent_waits_s": tuple(waits),
        }
        return HallInputs(config, base, queue_length, oldest_wait_s, sum(per_min), egate_share)

    def _decide(
        self,
        hall: Hall,
        now: datetime,
        inputs: HallInputs,
        stored: dict[str, LaneState],
        active: dict[str, Alert],
    ) -> tuple[HallOutcome, list[LaneState]]:
        config = inputs.config
        lanes, dropped = reconcile(hall, stored, config, now)
        lanes = advance(lanes, config, now)
        snapshot = hall_snapshot(inputs, lanes, active)
        started = time.perf_counter()
        decision = planning.decide(snapshot, self.config)
        decide_ms = (time.perf_counter() - started) * 1000.0
        self.decide_ms = [*self.decide_ms[-99:], decide_ms]
        changes = self._apply(lanes, decision, config, now)
        for lane in dropped:
            if lane.status in ("open", "opening"):
                closed = lane.model_copy(update={"status": "closing", "since": now})
                changes.append(LaneChange(closed, "close", "lane no longer installed"))
        alerts = alert_changes(hall, active, decision, now)
        summary = LaneDecisionSummary(
            hall=hall,
            at=now,
            decided_by=self.settings.consumer_name,
            share_next_hour_now=_finite(decision.share_next_hour_now),
            share_next_hour_planned=_finite(decision.share_next_hour_planned),
            arrival_scale=decision.arrival_scale,
            planned_officer_lanes=list(decision.planned_officer_lanes),
            egate_share=inputs.egate_share,
            officers_available=config.officers_on_duty,
            lanes=counts(lanes),
            queue_length=inputs.queue_length,
            oldest_wait_s=inputs.oldest_wait_s,
            arrivals_last_hour=inputs.arrivals_last_hour,
            commands=len(changes),
            alerts=sorted(alerts.active),
            decide_ms=round(decide_ms, 3),
        )
        outcome = HallOutcome(
            hall,
            leader=True,
            decision=decision,
            changes=changes,
            alerts=alerts,
            summary=summary,
            decide_ms=decide_ms,
            lanes=lanes,
        )
        return outcome, dropped

    @staticmethod
    def _apply(
        lanes: Lanes, decision: ControlDecision, config: HallConfig, now: datetime
    ) -> list[LaneChange]:
        changes: list[LaneChange] = []
        for command in decision.commands:
            if command.action == "open":
                changes += open_lanes(
                    lanes, command.lane_type, command.count, config, now, command.reason
                )
            else:
                changes += close_lanes(lanes, command.lane_type, command.count, now, command.reason)
        return changes

    def _write(
        self,
        pipe: Pipeline,
        hall: Hall,
        outcome: HallOutcome,
        stored: dict[str, LaneState],
        dropped: list[LaneState],
    ) -> None:
        lanes = outcome.lanes
        lanes_key = lane_state_key(hall)
        changed = {k: v for k, v in lanes.items() if stored.get(k) != v}
        if changed:
            pipe.hset(lanes_key, mapping={k: v.model_dump_json() for k, v in changed.items()})
        if dropped:
            pipe.hdel(lanes_key, *(lane.lane_id for lane in dropped))
        for change in outcome.changes:
            event = LaneCommand(
                hall=hall,
                lane_id=change.lane.lane_id,
                action="open" if change.action == "open" else "close",
                reason=change.reason,
                effective_at=change.effective_at,
                at=change.lane.since,
            )
            pipe.xadd(
                STREAM_LANE_COMMANDS,
                encode_event(event),  # type: ignore[arg-type]
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        if changed or dropped:
            state = [lane.model_dump(mode="json") for lane in ordered(lanes.values())]
            pipe.publish(CHANNEL_LIVE, live(LIVE_KIND_LANE_STATE, {"hall": hall, "lanes": state}))
        alerts = outcome.alerts or AlertChanges()
        alerts_key = active_alerts_key(hall)
        gone = [a.kind.removesuffix("-cleared") for a in alerts.cleared]
        if gone:
            pipe.hdel(alerts_key, *gone)
        if alerts.active:
            pipe.hset(
                alerts_key, mapping={k: v.model_dump_json() for k, v in alerts.active.items()}
            )
        for alert in [*alerts.raised, *alerts.cleared]:
            pipe.xadd(
                STREAM_ALERTS,
                encode_event(alert),  # type: ignore[arg-type]
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
            pipe.publish(CHANNEL_LIVE, live(LIVE_KIND_ALERT, alert.model_dump(mode="json")))
        if outcome.summary is not None:
            pipe.set(lane_decision_key(hall), outcome.summary.model_dump_json())
            pipe.publish(
                CHANNEL_LIVE,
                live(LIVE_KIND_LANE_DECISION, outcome.summary.model_dump(mode="json")),
            )

    def _log(self, outcome: HallOutcome) -> None:
        alerts = outcome.alerts or AlertChanges()
        if outcome.changes or alerts.raised or alerts.cleared:
            log.info(
                "lane_decision",
                hall=str(outcome.hall),
                commands=[f"{c.action} {c.lane.lane_id}" for c in outcome.changes],
                raised=[a.kind for a in alerts.raised],
                cleared=[a.kind for a in alerts.cleared],
                decide_ms=round(outcome.decide_ms, 2),
            )
