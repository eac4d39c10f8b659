"""An officer opens or closes their own desk: the hall's lane state, as the queue monitor keeps it.

Desks are the hall's ``officer`` lanes in ``lane_state_key(hall)`` (``officer-01``...), created by
the queue monitor's lane controller. The console changes one desk's ``LaneState`` under WATCH, so
a controller step that read the lanes meanwhile retries on the new state (and the other way
round), and, once the change is audited, pushes the hall's lanes on ``CHANNEL_LIVE`` as the
controller does. The officer who
opened a desk holds it (``desk_officer_key``); only they or a supervisor close it. Every change is
appended to the audit trail (kinds ``desk-open``, ``desk-close``); if that fails, the desk is set
back and the change is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from backend.audit.chain import audit_append_async
from backend.auth.roles import Principal, Role
from backend.records.store import RecordsStore
from bordergate.contracts import CHANNEL_LIVE, Hall, LaneState, desk_officer_key, lane_state_key

log = structlog.get_logger(__name__)

DeskAction = Literal["open", "close"]
# As the queue monitor's default minimum open time: its controller will not close a desk an
# officer just opened before then.
DESK_MIN_OPEN = timedelta(minutes=30)
DESK_CLAIM_TTL_S = 14 * 3600
DESK_OVERRULERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The queue monitor's live message for a hall's lanes (queue_monitor.control.LIVE_KIND_LANE_STATE).
LIVE_KIND_LANE_STATE = "lane_state"
MAX_ATTEMPTS = 5


class DeskNotFoundError(LookupError):
    pass


class DeskHeldError(Exception):
    """The desk is held by another officer."""


class LanesNotReadyError(Exception):
    """The queue monitor has not set up the hall's lanes yet."""


@dataclass(frozen=True, slots=True)
class DeskChange:
    desk: LaneState
    changed: bool
    officer: str | None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def desk_number(lane_id: str) -> str:
    """``officer-07`` -> ``7`` (what the hall's signs say); other ids as they are."""
    head, _, tail = lane_id.rpartition("-")
    return str(int(tail)) if head and tail.isdigit() else lane_id


def parse_lanes(raw: Mapping[Any, Any]) -> list[LaneState]:
    lanes: list[LaneState] = []
    for value in raw.values():
        try:
            lanes.append(LaneState.model_validate_json(value))
        except ValueError:
            continue
    return sorted(lanes, key=lambda lane: (lane.lane_type, lane.lane_id))


def lanes_message(hall: Hall, lanes: list[LaneState]) -> str:
    data = {"hall": str(hall), "lanes": [lane.model_dump(mode="json") for lane in lanes]}
    return json.dumps({"kind": LIVE_KIND_LANE_STATE, "data": data})


def _changed(lane: LaneState, action: DeskAction, now: datetime) -> LaneState | None:
    """The desk after ``action``, or None if it is already so."""
    if action == "open":
        if lane.status == "open":
            return None
        return lane.model_copy(
            update={
                "status": "open",
                "since": now,
                "ready_at": now,
                "closable_at": now + DESK_MIN_OPEN,
            }
        )
    if lane.status == "closed":
        return None
    return lane.model_copy(
        update={"status": "closed", "since": now, "ready_at": None, "closable_at": None}
    )


async def desk_officers(redis: Redis, hall: Hall, lane_ids: list[str]) -> dict[str, str]:
    """Who holds each desk (only desks that are held)."""
    if not lane_ids:
        return {}
    values = await redis.mget([desk_officer_key(hall, lane_id) for lane_id in lane_ids])
    return {lane_id: _text(v) for lane_id, v in zip(lane_ids, values, strict=True) if v}


class DeskService:
    def __init__(self, redis: Redis, records: RecordsStore) -> None:
        self.redis = redis
        self.records = records

    async def officer_desks(self, hall: Hall) -> list[LaneState]:
        lanes = parse_lanes(await self.redis.hgetall(lane_state_key(hall)))
        return [lane for lane in lanes if lane.lane_type == "officer"]

    async def _write(
        self, hall: Hall, lane_id: str, action: DeskAction, principal: Principal, now: datetime
    ) -> tuple[LaneState, LaneState | None, str | None]:
        """Apply the change in Redis: (before, after or None if unchanged, previous holder)."""
        key = lane_state_key(hall)
        claim = desk_officer_key(hall, lane_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_ATTEMPTS):
                try:
                    await pipe.watch(key, claim)
                    raw = await pipe.hgetall(key)
                    holder_raw = await pipe.get(claim)
                    holder = _text(holder_raw) if holder_raw else None
                    lanes = {lane.lane_id: lane for lane in parse_lanes(raw)}
                    if not lanes:
                        raise LanesNotReadyError(str(hall))
                    lane = lanes.get(lane_id)
                    if lane is None or lane.lane_type != "officer":
                        raise DeskNotFoundError(lane_id)
                    mine = holder is None or holder == principal.username
                    if not mine and principal.role not in DESK_OVERRULERS:
                        raise DeskHeldError(holder)
                    new = _changed(lane, action, now)
                    _multi(pipe)
                    if new is not None:
                        pipe.hset(key, lane_id, new.model_dump_json())
                    if action == "open":
                        pipe.set(claim, principal.username, ex=DESK_CLAIM_TTL_S)
                    else:
                        pipe.delete(claim)
                    await pipe.execute()
                    return lane, new, holder
                except WatchError:
                    continue
                finally:
                    await _reset(pipe)
        raise WatchError("the desk kept changing; try again")

    async def _restore(self, hall: Hall, before: LaneState, holder: str | None) -> None:
        key = lane_state_key(hall)
        claim = desk_officer_key(hall, before.lane_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, before.lane_id, before.model_dump_json())
            if holder:
                pipe.set(claim, holder, ex=DESK_CLAIM_TTL_S)
            else:
                pipe.delete(claim)
            await pipe.execute()

    async def change(
        self, hall: Hall, lane_id: str, action: DeskAction, principal: Principal, now: datetime
    ) -> DeskChange:
        """Open or close a desk, recorded in the audit trail. Raises DeskNotFoundError,
        DeskHeldError, LanesNotReadyError, RedisError or RecordsUnavailableError."""
        before, after, holder = await self._write(hall, lane_id, action, principal, now)
        if after is None:
            return DeskChange(before, changed=False, officer=principal.username)
        try:
            await audit_append_async(
                self.records,
                kind=f"desk-{action}",
                actor=principal.username,
                subject=f"{hall}/{lane_id}",
                detail={
                    "hall": str(hall),
                    "lane_id": lane_id,
                    "action": action,
                    "role": str(principal.role),
                    "from_status": before.status,
                    "held_by": holder,
                    "at": now.isoformat(),
                },
            )
        except Exception:
            await self._restore(hall, before, holder)
            raise
        # Announced only once audited: a change that was set back is never shown.
        lanes = parse_lanes(await self.redis.hgetall(lane_state_key(hall)))
        await self.redis.publish(CHANNEL_LIVE, lanes_message(hall, lanes))
        log.info(
            "desk.changed",
            hall=str(hall),
            lane_id=lane_id,
            action=action,
            officer=principal.username,
        )
        return DeskChange(
            after, changed=True, officer=principal.username if action == "open" else None
        )


def _multi(pipe: Pipeline) -> None:
    cast(Any, pipe).multi()  # redis-py leaves Pipeline.multi untyped


async def _reset(pipe: Pipeline) -> None:
    await cast(Any, pipe).reset()
