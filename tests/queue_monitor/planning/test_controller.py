"""The bordergate controller on hand-built snapshots."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from queue_monitor.planning.controller import (
    ControllerConfig,
    HallParameters,
    HallSnapshot,
    Lane,
    LaneGroup,
    decide,
)
from queue_monitor.planning.scenario import ArrivalWave

NOW = datetime.fromisoformat("2026-04-10T07:00:00+08:00")
PARAMS = HallParameters(
    egate_service_s=25,
    officer_service_s=90,
    referral_service_s=240,
    egate_share=0.5,
    egate_fallback_share=0.0,
    open_delay_min=5,
    min_open_min=30,
)


def wave(minutes: float, passengers: int, profile: str = "ship", over: float = 120) -> ArrivalWave:
    return ArrivalWave(
        at=NOW + timedelta(minutes=minutes),
        passengers=passengers,
        profile=profile,  # type: ignore[arg-type]
        over_min=over,
    )


def open_lanes(n: int, ready_min: float = -60, hold: float = 30) -> tuple[Lane, ...]:
    ready = NOW + timedelta(minutes=ready_min)
    return tuple(Lane("open", ready, ready + timedelta(minutes=hold)) for _ in range(n))


def snap(
    schedule: tuple[ArrivalWave, ...],
    *,
    at: datetime = NOW,
    officer: LaneGroup | None = None,
    egate: LaneGroup | None = None,
    officers: int = 20,
    **kw: object,
) -> HallSnapshot:
    return HallSnapshot(
        hall="cruise",
        now=at,
        params=PARAMS,
        egate=egate or LaneGroup(installed=10),
        officer=officer or LaneGroup(installed=20),
        officers_available=officers,
        schedule=schedule,
        **kw,  # type: ignore[arg-type]
    )


def test_opens_ahead_of_a_surge_respecting_the_delay() -> None:
    ship = (wave(60, 3000),)
    # an hour ahead: nothing to open yet (a lane opened now would idle)
    early = decide(snap(ship))
    assert early.opens("officer") == 0
    assert any(a.kind == "forecast-at-risk" for a in early.alerts) is False
    # five minutes before the first passenger (= the delay): lanes are ordered now so they are
    # ready when the ship's people reach the desks
    before = decide(snap(ship, at=NOW + timedelta(minutes=55)))
    assert before.opens("officer") > 0
    assert before.planned_officer_lanes[:5] == (0, 0, 0, 0, 0)  # none can be ready sooner
    # what is needed before the next decision's lanes could be ready (5 + 5 min) is ordered now
    assert before.opens("officer") == max(before.planned_officer_lanes[5:11])
    assert before.opens("egate") == 10  # all e-gates whenever there is e-gate demand
    reason = next(c.reason for c in before.commands if c.lane_type == "officer")
    assert "08:00" in reason


def test_serves_a_ship_within_target_when_lanes_follow_the_plan() -> None:
    # Drive the controller through the ship with its own commands (lanes ready after the
    # delay) and check that its own forecast stays within target.
    ship = (wave(30, 2000, over=100),)
    lanes: list[Lane] = []
    for step in range(0, 150, 5):
        at = NOW + timedelta(minutes=step)
        group = LaneGroup(
            installed=20,
            lanes=tuple(
                Lane("open" if lane.ready_at <= at else "opening", lane.ready_at, lane.closable_at)
                for lane in lanes
            ),
        )
        d = decide(snap(ship, at=at, officer=group))
        assert d.share_next_hour_planned >= 0.95
        for _ in range(d.opens("officer")):
            ready = at + timedelta(minutes=5)
            lanes.append(Lane("opening", ready, ready + timedelta(minutes=30)))
        for _ in range(d.closes("officer")):
            closable = [lane for lane in lanes if lane.closable_at <= at and lane.ready_at <= at]
            lanes.remove(closable[0])
    assert not lanes or len(lanes) < 20


def test_keeps_lanes_open_min_open_then_closes_when_idle() -> None:
    nothing: tuple[ArrivalWave, ...] = ()
    young = LaneGroup(installed=20, lanes=open_lanes(3, ready_min=-10, hold=30))
    assert decide(snap(nothing, officer=young)).closes("officer") == 0
    old = LaneGroup(installed=20, lanes=open_lanes(3, ready_min=-31, hold=30))
    d = decide(snap(nothing, officer=old))
    assert d.closes("officer") == 3
    assert d.opens("officer") == 0
    gates = LaneGroup(installed=10, lanes=open_lanes(10, ready_min=-60))
    assert decide(snap(nothing, egate=gates)).closes("egate") == 10


def test_does_not_close_lanes_with_a_queue() -> None:
    busy = LaneGroup(installed=20, queue_length=40, oldest_wait_s=600, lanes=open_lanes(3))
    d = decide(snap((), officer=busy))
    assert d.closes("officer") == 0


def test_alerts_with_lead_time_when_capacity_is_insufficient() -> None:
    ship = (wave(90, 3000, over=150),)  # 10 officer travellers a minute: ~16 lanes
    d = decide(snap(ship, officers=3))
    alert = next(a for a in d.alerts if a.kind == "capacity-insufficient")
    assert alert.severity == "critical"
    assert alert.from_time is not None
    assert alert.from_time - NOW >= timedelta(minutes=90 + 25)  # first over 25 min: a lead
    assert alert.extra_officers > 0
    assert "3 officers" in alert.message
    # with enough officers there is no such alert
    assert all(a.kind != "capacity-insufficient" for a in decide(snap(ship)).alerts)


def test_forecast_at_risk_names_officers_and_time() -> None:
    flight = (wave(10, 300, profile="flight", over=25),)
    d = decide(snap(flight))
    alert = next(a for a in d.alerts if a.kind == "forecast-at-risk")
    assert alert.severity == "warning"
    assert alert.extra_officers >= 1
    assert alert.from_time is not None
    assert NOW < alert.from_time < NOW + timedelta(minutes=60)
    assert d.share_next_hour_now < 0.95 <= d.share_next_hour_planned


def test_measured_wait_alert() -> None:
    ok = decide(snap((), recent_waits_s=tuple([60.0] * 40)))
    assert not ok.alerts
    bad = decide(snap((), recent_waits_s=tuple([60.0] * 30 + [1800.0] * 10)))
    assert [a.kind for a in bad.alerts] == ["measured-wait-exceeded"]
    stuck = LaneGroup(installed=20, queue_length=5, oldest_wait_s=1600, lanes=open_lanes(4))
    assert "measured-wait-exceeded" in [a.kind for a in decide(snap((), officer=stuck)).alerts]


def test_scales_the_forecast_when_arrivals_run_high() -> None:
    ship = (wave(-60, 2400, over=120),)  # 20/min forecast, started an hour ago
    on_plan = decide(snap(ship, arrivals_per_min=tuple([20] * 60)))
    assert on_plan.arrival_scale == pytest.approx(1.0, abs=0.01)
    high = decide(snap(ship, arrivals_per_min=tuple([25] * 60)))
    assert high.arrival_scale == pytest.approx(1.25, abs=0.02)
    low = decide(snap(ship, arrivals_per_min=tuple([15] * 60)))
    assert low.arrival_scale == 1.0  # never scaled down
    assert sum(high.planned_officer_lanes) > sum(on_plan.planned_officer_lanes)


def test_pure_deterministic_and_fast() -> None:
    ship = (wave(20, 4000, over=150), wave(200, 300, profile="flight", over=25))
    s = snap(ship, officer=LaneGroup(installed=20, queue_length=30, lanes=open_lanes(4)))
    assert decide(s) == decide(s)
    t = time.perf_counter()
    for _ in range(10):
        decide(s, ControllerConfig())
    assert (time.perf_counter() - t) / 10 < 0.05
