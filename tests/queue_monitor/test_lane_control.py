"""The live lane controller on fakeredis: hall configuration, schedule -> waves, lane state,
arrivals counting, alert de-duplication, the leader lease, the control loop."""

from __future__ import annotations

import asyncio
import json
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from bordergate.contracts import (
    STREAM_ALERTS,
    STREAM_LANE_COMMANDS,
    Alert,
    Hall,
    LaneCommand,
    QueueJoined,
    ScheduledArrival,
    arrivals_key,
    controller_lease_key,
    decode_event,
    hall_config_key,
    lane_state_key,
    schedule_key,
)
from queue_monitor import QueueMonitor
from queue_monitor.control import (
    HallInputs,
    LaneController,
    read_active_alerts,
    read_lane_decision,
    read_lanes,
)
from queue_monitor.hall_config import DEFAULT_HALLS, HallConfig, effective_config
from queue_monitor.lanes import advance, close_lanes, initial_lanes, lane_group, open_lanes
from queue_monitor.schedule import arrival_waves, weighted_egate_share
from queue_monitor.settings import MonitorSettings
from tests.queue_monitor.factories import eventually, fast_settings

NOW = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
CRUISE = DEFAULT_HALLS[Hall.CRUISE]


def ship(at: datetime, passengers: int = 4000, **extra: Any) -> ScheduledArrival:
    values: dict[str, Any] = {
        "kind": "ship",
        "ref": "MSC SPLENDIDA",
        "hall": Hall.CRUISE,
        "at": at,
        "passengers": passengers,
        "egate_share": 0.4,
        "disembark_per_min": passengers / 30,
    }
    values.update(extra)
    return ScheduledArrival(**values)


def flight(ref: str, at: datetime, passengers: int, egate_share: float = 0.5) -> ScheduledArrival:
    return ScheduledArrival(
        kind="flight",
        ref=ref,
        hall=Hall.AIRPORT,
        at=at,
        passengers=passengers,
        egate_share=egate_share,
    )


async def post(redis: Redis, *arrivals: ScheduledArrival) -> None:
    for a in arrivals:
        await redis.hset(schedule_key(a.hall), a.arrival_id, a.model_dump_json())


async def entries(redis: Redis, stream: str) -> list[Any]:
    return [decode_event(fields) for _, fields in await redis.xrange(stream)]


def controller(redis: Redis, name: str = "c1", **overrides: Any) -> LaneController:
    return LaneController(redis, fast_settings(name, **overrides))


# ---- hall configuration ----------------------------------------------------------------------


def test_settings_halls_default_and_partial_json(monkeypatch: pytest.MonkeyPatch) -> None:
    s = MonitorSettings()
    airport = s.halls[Hall.AIRPORT]
    assert (airport.egates_installed, airport.officer_desks, airport.officers_on_duty) == (
        12,
        24,
        16,
    )
    cruise = s.halls[Hall.CRUISE]
    assert (cruise.egates_installed, cruise.officer_desks, cruise.officers_on_duty) == (10, 20, 14)

    monkeypatch.setenv("BORDERGATE_MONITOR_HALLS", json.dumps({"cruise": {"officers_on_duty": 6}}))
    s = MonitorSettings()
    assert s.halls[Hall.CRUISE].officers_on_duty == 6
    assert s.halls[Hall.CRUISE].egates_installed == 10  # the rest of the hall kept
    assert s.halls[Hall.AIRPORT] == DEFAULT_HALLS[Hall.AIRPORT]

    monkeypatch.setenv("BORDERGATE_MONITOR_HALLS", json.dumps({"seaport": {}}))
    with pytest.raises(ValidationError, match="seaport"):
        MonitorSettings()


def test_hall_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ValidationError, match="initially_open_officer"):
        HallConfig.model_validate(
            {**CRUISE.model_dump(), "officers_on_duty": 2, "initially_open_officer": 3}
        )
    with pytest.raises(ValidationError, match="egate_share"):
        HallConfig.model_validate({**CRUISE.model_dump(), "egate_share": 1.5})


async def test_run_time_override_merged_and_invalid_one_ignored(redis: Redis) -> None:
    await redis.set(hall_config_key(Hall.CRUISE), json.dumps({"officers_on_duty": 8}))
    config = await effective_config(redis, Hall.CRUISE, CRUISE)
    assert config.officers_on_duty == 8
    assert config.officer_desks == CRUISE.officer_desks
    await redis.set(hall_config_key(Hall.CRUISE), json.dumps({"officers_on_duty": -1}))
    assert await effective_config(redis, Hall.CRUISE, CRUISE) == CRUISE
    await redis.set(hall_config_key(Hall.CRUISE), "[1, 2]")
    assert await effective_config(redis, Hall.CRUISE, CRUISE) == CRUISE


# ---- schedule -> waves -----------------------------------------------------------------------


def test_schedule_to_waves() -> None:
    config = DEFAULT_HALLS[Hall.AIRPORT]
    arrivals = [
        flight("KE805", NOW + timedelta(minutes=20), 300, egate_share=0.8),
        flight("CA101", NOW - timedelta(minutes=50), 100, egate_share=0.2),  # still arriving
        flight("MU202", NOW - timedelta(minutes=120), 200),  # finished long ago
        flight("CZ303", NOW + timedelta(minutes=300), 200),  # beyond the horizon
        flight("HU404", NOW + timedelta(minutes=30), 150).model_copy(
            update={"status": "cancelled"}
        ),
        flight("ZH505", NOW + timedelta(minutes=40), 0),
        ship(NOW + timedelta(minutes=60), 4000, disembark_per_min=None),
        ship(NOW + timedelta(minutes=90), 3000, ref="COSTA"),
    ]
    kept = arrival_waves(arrivals, config, NOW, horizon_min=180)
    waves = {a.ref: w for a, w in kept}
    assert sorted(waves) == ["CA101", "COSTA", "KE805", "MSC SPLENDIDA"]
    assert waves["KE805"].profile == "flight"
    assert waves["KE805"].over_min == config.flight_over_min
    assert waves["KE805"].at == NOW + timedelta(minutes=20)
    assert waves["KE805"].passengers == 300
    assert waves["MSC SPLENDIDA"].profile == "ship"
    assert waves["MSC SPLENDIDA"].over_min == pytest.approx(4000 / config.ship_disembark_per_min)
    assert waves["COSTA"].over_min == pytest.approx(30.0)
    share = weighted_egate_share(kept, default=0.45)
    expected = (300 * 0.8 + 100 * 0.2 + 4000 * 0.4 + 3000 * 0.4) / 7400
    assert share == pytest.approx(expected)
    assert weighted_egate_share([], default=0.45) == 0.45


# ---- lane state ------------------------------------------------------------------------------


def test_lane_transitions_respect_delay_and_min_open_time() -> None:
    config = CRUISE  # open delay 5 min, min open 30 min
    lanes = initial_lanes(Hall.CRUISE, config, NOW)
    officers = [lane for lane in lanes.values() if lane.lane_type == "officer"]
    assert len(officers) == 20
    assert [lane.status for lane in officers[:5]] == ["open"] * 4 + ["closed"]
    assert lane_group(lanes, "officer", 20, 0, 0.0).count("open") == 4

    changes = open_lanes(lanes, "officer", 2, config, NOW, "test")
    assert [c.lane.lane_id for c in changes] == ["officer-05", "officer-06"]
    opened = lanes["officer-05"]
    assert opened.status == "opening"
    assert opened.ready_at == NOW + timedelta(minutes=5)
    assert opened.closable_at == NOW + timedelta(minutes=35)
    assert changes[0].effective_at == NOW + timedelta(minutes=5)

    lanes = advance(lanes, config, NOW + timedelta(minutes=4, seconds=59))
    assert lanes["officer-05"].status == "opening"
    lanes = advance(lanes, config, NOW + timedelta(minutes=5))
    assert lanes["officer-05"].status == "open"

    # The first four were open from NOW: closable from NOW + 30; the new ones from NOW + 35.
    early = close_lanes(lanes, "officer", 6, NOW + timedelta(minutes=29), "test")
    assert early == []
    later = NOW + timedelta(minutes=31)
    closed = close_lanes(lanes, "officer", 6, later, "test")
    assert [c.lane.lane_id for c in closed] == [
        "officer-04",
        "officer-03",
        "officer-02",
        "officer-01",
    ]
    assert lanes["officer-06"].status == "open"
    assert lanes["officer-04"].status == "closing"
    grace = timedelta(seconds=config.referral_service_s)
    assert advance(lanes, config, later + grace - timedelta(seconds=1))["officer-04"].status == (
        "closing"
    )
    done = advance(lanes, config, later + grace)["officer-04"]
    assert (done.status, done.ready_at, done.closable_at) == ("closed", None, None)


# ---- arrivals measured -------------------------------------------------------------------------


async def test_arrivals_counted_once_per_traveller_per_minute(redis: Redis) -> None:
    monitor = QueueMonitor(redis, fast_settings("arr"))
    base = NOW.replace(second=0)
    first = QueueJoined(hall=Hall.CRUISE, traveller_ref="a", counter_id="c", at=base)
    events = [
        first,
        first,  # redelivered (same event id)
        QueueJoined(hall=Hall.CRUISE, traveller_ref="a", counter_id="c2", at=base),  # same visit
        QueueJoined(hall=Hall.CRUISE, traveller_ref="b", counter_id="c", at=base),
        QueueJoined(
            hall=Hall.CRUISE, traveller_ref="c", counter_id="c", at=base + timedelta(minutes=2)
        ),
    ]
    for event in events:
        await monitor.state.apply(event)
    minute = int(base.timestamp() // 60)
    got = await monitor.state.arrivals_per_minute(Hall.CRUISE, minute + 3, 4)
    assert got == [0, 2, 0, 1]
    # Old minutes are trimmed relative to the newest.
    await redis.hset(arrivals_key(Hall.CRUISE), str(minute - 500), 7)
    await monitor.state.trim_arrivals(Hall.CRUISE)
    assert str(minute - 500) not in await redis.hkeys(arrivals_key(Hall.CRUISE))
    assert await monitor.state.arrivals_per_minute(Hall.CRUISE, minute + 3, 4) == [0, 2, 0, 1]


# ---- decisions, alerts, lease ----------------------------------------------------------------


async def test_big_ship_opens_officer_lanes_and_alerts_once(redis: Redis) -> None:
    await post(redis, ship(NOW - timedelta(minutes=5)))
    c = controller(redis)
    outcomes = await c.step(NOW)
    cruise = next(o for o in outcomes if o.hall is Hall.CRUISE)
    assert cruise.leader
    opened = [ch.lane.lane_id for ch in cruise.changes if ch.action == "open"]
    assert opened == [f"officer-{i:02d}" for i in range(5, 15)]  # 14 officers, 4 were open
    commands = await entries(redis, STREAM_LANE_COMMANDS)
    assert {(e.lane_id, e.action) for e in commands} == {(lane, "open") for lane in opened}
    assert all(isinstance(e, LaneCommand) and e.hall is Hall.CRUISE for e in commands)
    assert all(e.effective_at == NOW + timedelta(minutes=5) for e in commands)
    alerts = await entries(redis, STREAM_ALERTS)
    kinds = sorted(a.kind for a in alerts)
    assert "capacity-insufficient" in kinds
    capacity = next(a for a in alerts if a.kind == "capacity-insufficient")
    assert capacity.severity == "critical"
    assert capacity.data["extra_officers"] > 0
    assert capacity.data["from_time"] is not None
    summary = await read_lane_decision(redis, Hall.CRUISE)
    assert summary is not None
    assert summary.lanes["officer:opening"] == 10
    assert summary.share_next_hour_now is not None
    assert summary.share_next_hour_now < 0.95

    # Again a minute later: still at risk, nothing new raised, no lane opened twice.
    await c.step(NOW + timedelta(minutes=1))
    assert len(await entries(redis, STREAM_ALERTS)) == len(alerts)
    assert len(await entries(redis, STREAM_LANE_COMMANDS)) == len(commands)
    # A restarted monitor (new controller, after the old one let go) does not raise them again.
    await c.release_leases()
    c2 = controller(redis, "c2")
    assert all(o.leader for o in await c2.step(NOW + timedelta(minutes=2)))
    assert len(await entries(redis, STREAM_ALERTS)) == len(alerts)

    # The ship is cancelled: the forecast alerts clear, once.
    await redis.delete(schedule_key(Hall.CRUISE))
    await c2.step(NOW + timedelta(minutes=3))
    await c2.step(NOW + timedelta(minutes=4))
    after = await entries(redis, STREAM_ALERTS)
    cleared = [a for a in after if a.kind.endswith("-cleared")]
    assert sorted(a.kind for a in cleared) == sorted(f"{k}-cleared" for k in kinds)
    assert all(a.severity == "info" for a in cleared)
    assert await read_active_alerts(redis, Hall.CRUISE) == {}


async def test_only_the_lease_holder_decides(redis: Redis) -> None:
    await post(redis, ship(NOW - timedelta(minutes=5)))
    a, b = controller(redis, "a"), controller(redis, "b")
    results = await asyncio.gather(a.step(NOW), b.step(NOW))
    leaders = [o.hall for outs in results for o in outs if o.leader]
    assert sorted(leaders) == sorted(Hall)  # each hall decided by exactly one controller
    opens = [e for e in await entries(redis, STREAM_LANE_COMMANDS) if e.hall is Hall.CRUISE]
    assert len(opens) == 10
    assert len({e.lane_id for e in opens}) == 10
    raised = [e for e in await entries(redis, STREAM_ALERTS) if e.hall is Hall.CRUISE]
    assert len(raised) == len({e.kind for e in raised})

    # The holder keeps its lease on renewal; the other takes over once it is released.
    holder, other = (a, b) if await a.hold_lease(Hall.CRUISE) else (b, a)
    assert not await other.hold_lease(Hall.CRUISE)
    await holder.release_leases()
    assert await other.hold_lease(Hall.CRUISE)
    assert not await holder.hold_lease(Hall.CRUISE)


async def test_lease_expires_when_not_renewed(redis: Redis) -> None:
    a = controller(redis, "a", lease_ttl_s=0.2)
    b = controller(redis, "b", lease_ttl_s=0.2)
    assert await a.hold_lease(Hall.AIRPORT)
    assert not await b.hold_lease(Hall.AIRPORT)
    assert 0 < await redis.pttl(controller_lease_key(Hall.AIRPORT)) <= 200

    async def taken_over() -> bool:
        return await b.hold_lease(Hall.AIRPORT)

    await eventually(taken_over, within_s=3)


class LosesLeaseMidStep(LaneController):
    """Reads its inputs, then (a long pause) another monitor takes the lease."""

    async def read_inputs(self, hall: Hall, now: datetime) -> HallInputs:
        inputs = await super().read_inputs(hall, now)
        await self.redis.set(controller_lease_key(hall), "someone-else")
        return inputs


async def test_a_monitor_that_lost_its_lease_writes_nothing(redis: Redis) -> None:
    await post(redis, ship(NOW - timedelta(minutes=5)))
    c = LosesLeaseMidStep(redis, fast_settings("slow"))
    outcomes = await c.step(NOW)
    assert not any(o.leader for o in outcomes)
    assert await redis.xlen(STREAM_LANE_COMMANDS) == 0
    assert await redis.xlen(STREAM_ALERTS) == 0
    assert await read_lanes(redis, Hall.CRUISE) == {}


async def test_lanes_open_when_ready_and_close_after_min_open_time(redis: Redis) -> None:
    c = controller(redis)
    await c.step(NOW)  # nothing scheduled: the initial lanes, nothing to do yet
    lanes = await read_lanes(redis, Hall.AIRPORT)
    assert sum(lane.status == "open" for lane in lanes.values()) == 12 + 3
    assert await redis.xlen(STREAM_LANE_COMMANDS) == 0

    # Still inside their minimum open time: nothing closes although nobody comes.
    await c.step(NOW + timedelta(minutes=29))
    assert await redis.xlen(STREAM_LANE_COMMANDS) == 0
    # Past it: the idle officer lanes and e-gates are closed.
    await c.step(NOW + timedelta(minutes=31))
    commands = [e for e in await entries(redis, STREAM_LANE_COMMANDS) if e.hall is Hall.AIRPORT]
    assert commands
    assert {e.action for e in commands} == {"close"}
    lanes = await read_lanes(redis, Hall.AIRPORT)
    assert all(lanes[e.lane_id].status == "closing" for e in commands)

    # A flight: lanes are ordered open, "opening" until ready, then "open".
    await post(redis, flight("KE805", NOW + timedelta(minutes=40), 400))
    await c.step(NOW + timedelta(minutes=36))
    opened = [e for e in await entries(redis, STREAM_LANE_COMMANDS) if e.action == "open"]
    assert opened
    ready = NOW + timedelta(minutes=41)
    assert all(e.effective_at == ready for e in opened)
    lanes = await read_lanes(redis, Hall.AIRPORT)
    assert all(lanes[e.lane_id].status == "opening" for e in opened)
    await c.step(ready)
    lanes = await read_lanes(redis, Hall.AIRPORT)
    assert all(lanes[e.lane_id].status == "open" for e in opened)


async def test_decisions_are_fast(redis: Redis) -> None:
    await post(redis, ship(NOW - timedelta(minutes=5)))
    await post(redis, *(flight(f"KE{i}", NOW + timedelta(minutes=7 * i), 300) for i in range(20)))
    c = controller(redis)
    for minute in range(10):
        await c.step(NOW + timedelta(minutes=minute))
    assert len(c.decide_ms) == 20
    assert statistics.median(c.decide_ms) < 50.0


async def test_control_loop_survives_failures(redis: Redis) -> None:
    monitor = QueueMonitor(redis, fast_settings("loop", decision_interval_s=0.05))
    calls = 0
    real_step = monitor.controller.step

    async def flaky(now: datetime | None = None) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("boom")
        return await real_step(now)

    monitor.controller.step = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:

        async def decided() -> bool:
            return await read_lane_decision(redis, Hall.CRUISE) is not None

        await eventually(decided, within_s=5)
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert calls >= 3
    assert await redis.exists(controller_lease_key(Hall.CRUISE)) == 0  # released on stop


async def test_control_disabled_runs_no_controller(redis: Redis) -> None:
    monitor = QueueMonitor(redis, fast_settings("off", control_enabled=False))
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert await redis.exists(lane_state_key(Hall.AIRPORT)) == 0


def test_alert_event_shape_round_trips() -> None:
    alert = Alert(hall=Hall.CRUISE, severity="info", kind="forecast-at-risk-cleared", message="m")
    assert decode_event({"type": alert.type, "data": alert.model_dump_json()}) == alert


async def test_raised_alerts_are_passed_back_for_hysteresis(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The controller clears a raised kind only with margin; it can do so only if the live loop
    # tells it which kinds are in force, as the simulator does.
    from queue_monitor.planning import controller as planning

    seen: list[tuple[str, ...]] = []
    real_decide = planning.decide

    def spy(snapshot: Any, config: Any) -> Any:
        if snapshot.hall == "cruise":
            seen.append(tuple(snapshot.active_alerts))
        return real_decide(snapshot, config)

    monkeypatch.setattr(planning, "decide", spy)
    await post(redis, ship(NOW - timedelta(minutes=5)))
    c = controller(redis)
    await c.step(NOW)
    await c.step(NOW + timedelta(minutes=1))
    raised = set(await read_active_alerts(redis, Hall.CRUISE))
    assert seen[0] == ()
    assert raised
    assert set(seen[1]) == raised
