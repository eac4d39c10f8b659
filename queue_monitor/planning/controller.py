"""The ``bordergate`` lane controller: one pure function, ``decide(snapshot, config)``.

Given a ``HallSnapshot`` (the time, the queues, the lanes open / opening / closing with their
times, the officers on duty, the schedule, recent arrivals and measured waits) it returns a
``ControlDecision``: lane commands with reasons, alerts, and the forecast behind them. No I/O, no
clock, no randomness: the live monitor builds the snapshot from Redis, the simulator from its
state, and both get the same answer for the same snapshot.

How it decides
--------------
1. **Forecast arrivals** for the next ``horizon_min`` minutes from the schedule (arrival
   profiles), scaled up when arrivals over the last hour ran above the forecast for that hour
   (credibility-weighted, never scaled down: a forecast that was 15% low must not surprise us
   twice).
2. **E-gates** are cheap (no officer per gate): all installed gates are opened whenever e-gate
   travellers are expected before a newly opened gate could be ready (plus a decision interval)
   or are queueing, and closed when none are expected for a while.
3. **Officer lanes** are planned minute by minute over the horizon (``lane_plan.plan_lanes``)
   on the fluid model: fewest lane-minutes such that every traveller is served within
   ``plan_wait_min`` (a margin under the 25-minute target that absorbs randomness), at a derated
   service rate (``utilisation``), respecting the opening delay (new lanes only from
   ``now + open_delay``) and the minimum open time: just in time, plus the lanes the work at
   hand keeps busy for their whole minimum open time (so no late burst of lanes that then sit
   idle). Lanes needed before the *next* decision
   could have them ready are opened now; lanes not needed until then (plus ``close_hold_min``)
   and past their minimum open time are closed.
4. **Alerts**: ``forecast-at-risk`` (warning) when, with only the lanes now open or opening, the
   forecast share within 25 minutes of the travellers arriving in the next hour is under 95%,
   with how many more officers are needed and from when; ``capacity-insufficient`` (critical)
   when even every installed lane and officer on duty cannot keep some hour of the horizon at
   95%, with the officers missing and when the first traveller passes 25 minutes;
   ``measured-wait-exceeded`` (critical) when under 95% of the waits measured in the last hour
   were within 25 minutes, or someone now waiting has passed 25 minutes.

A decision is a statement of the current need, not an event: the caller raises an alert when
its kind appears and clears it when it disappears (the simulator counts alert episodes so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from queue_monitor.planning.arrivals import Wave, expected_per_minute
from queue_monitor.planning.forecast import HallProjection, QueueState, project_hall
from queue_monitor.planning.lane_plan import plan_lanes
from queue_monitor.planning.scenario import ArrivalWave, LaneType
from queue_monitor.waits import share_within

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LaneStatus = Literal["open", "opening", "closing"]
AlertKind = Literal["forecast-at-risk", "capacity-insufficient", "measured-wait-exceeded"]


@dataclass(frozen=True, slots=True)
class Lane:
    """A lane that is not closed. ``ready_at``: when it is (or was) ready to serve;
    ``closable_at``: the earliest time it may close (ready + minimum open time)."""

    status: LaneStatus
    ready_at: datetime
    closable_at: datetime


@dataclass(frozen=True, slots=True)
class LaneGroup:
    """One lane type in the hall: its queue and its lanes (closed lanes are not listed)."""

    installed: int
    queue_length: int = 0
    oldest_wait_s: float = 0.0
    lanes: tuple[Lane, ...] = ()

    def count(self, *statuses: LaneStatus) -> int:
        return sum(1 for lane in self.lanes if lane.status in statuses)


@dataclass(frozen=True, slots=True)
class HallParameters:
    """What the controller needs to know about the hall's service."""

    egate_service_s: float
    officer_service_s: float
    referral_service_s: float
    egate_share: float
    egate_fallback_share: float
    open_delay_min: float
    min_open_min: float


@dataclass(frozen=True, slots=True)
class HallSnapshot:
    hall: str
    now: datetime
    params: HallParameters
    egate: LaneGroup
    officer: LaneGroup
    officers_available: int  # officers on duty who could staff a desk (incl. those at desks)
    schedule: tuple[ArrivalWave, ...]  # the forecast: flights and ships with counts
    arrivals_per_min: tuple[int, ...] = ()  # travellers entering the hall, last minutes, oldest
    recent_waits_s: tuple[float, ...] = ()  # waits completed in the last hour


@dataclass(frozen=True, slots=True)
class LaneCommand:
    lane_type: LaneType
    action: Literal["open", "close"]
    count: int
    reason: str


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    severity: Literal["warning", "critical"]
    message: str
    extra_officers: int = 0
    from_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ControlDecision:
    at: datetime
    commands: tuple[LaneCommand, ...]
    alerts: tuple[Alert, ...]
    arrival_scale: float  # factor applied to the schedule's forecast
    share_next_hour_now: float  # forecast share within target, lanes as they are now
    share_next_hour_planned: float  # the same with the planned lanes
    planned_officer_lanes: tuple[int, ...]  # per minute from now over the horizon

    def opens(self, lane_type: LaneType) -> int:
        return sum(
            c.count for c in self.commands if c.lane_type == lane_type and c.action == "open"
        )

    def closes(self, lane_type: LaneType) -> int:
        return sum(
            c.count for c in self.commands if c.lane_type == lane_type and c.action == "close"
        )


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    target_wait_min: float = 25.0
    target_share: float = 0.95
    plan_wait_min: float = 22.0
    utilisation: float = 0.97
    horizon_min: int = 180
    decision_interval_min: float = 5.0
    alert_window_min: int = 60
    close_hold_min: float = 10.0
    scale_credibility: float = 150.0  # forecast travellers in the last hour for full weight
    max_scale: float = 2.0


def minutes_between(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60.0


def waves_from(schedule: tuple[ArrivalWave, ...], now: datetime) -> list[Wave]:
    return [
        Wave(minutes_between(now, w.at), float(w.passengers), w.profile, w.over_min)
        for w in schedule
    ]


def arrival_scale(
    waves: list[Wave], arrivals_per_min: tuple[int, ...], config: ControllerConfig
) -> float:
    """How much to scale the forecast from the last minutes' arrivals against their forecast."""
    n = len(arrivals_per_min)
    if n == 0:
        return 1.0
    expected = float(expected_per_minute(waves, -float(n), n).sum())
    if expected < 10.0:
        return 1.0
    ratio = sum(arrivals_per_min) / expected
    weight = min(1.0, expected / config.scale_credibility)
    return float(min(config.max_scale, 1.0 + weight * max(0.0, ratio - 1.0)))


def lane_profile(group: LaneGroup, now: datetime, horizon: int) -> tuple[IntArray, IntArray]:
    """Per minute from now: lanes available with no new command, and those locked open."""
    committed = np.zeros(horizon, dtype=np.int64)
    locked = np.zeros(horizon, dtype=np.int64)
    for lane in group.lanes:
        if lane.status == "closing":
            continue
        ready = max(0, math.ceil(minutes_between(now, lane.ready_at) - 1e-9))
        closable = max(ready, math.ceil(minutes_between(now, lane.closable_at) - 1e-9))
        committed[min(ready, horizon) :] += 1
        locked[min(ready, horizon) : min(closable, horizon)] += 1
    return committed, locked


def officer_mean_service_s(p: HallParameters) -> float:
    """Mean service at an officer desk over direct travellers and e-gate fallbacks."""
    direct = 1.0 - p.egate_share
    fallback = p.egate_share * p.egate_fallback_share
    if direct + fallback <= 0:
        return p.officer_service_s
    return (direct * p.officer_service_s + fallback * p.referral_service_s) / (direct + fallback)


def worst_window_share(
    projection: HallProjection, target_min: float, window: int, horizon: int
) -> tuple[float, int]:
    """Lowest share within target over windows of ``window`` minutes; and where it starts."""
    worst, where = 1.0, 0
    for start in range(0, max(1, horizon - window - int(target_min)) + 1, 15):
        share = projection.share_within(target_min, start, start + window)
        if share < worst:
            worst, where = share, start
    return worst, where


def _clock(now: datetime, minutes: float) -> str:
    return (now + timedelta(minutes=minutes)).strftime("%H:%M")


def decide(snapshot: HallSnapshot, config: ControllerConfig | None = None) -> ControlDecision:
    """The controller's decision for one hall now. Pure and deterministic."""
    cfg = config or ControllerConfig()
    p = snapshot.params
    now = snapshot.now
    horizon = cfg.horizon_min
    target = cfg.target_wait_min
    delay = math.ceil(p.open_delay_min)
    interval = math.ceil(cfg.decision_interval_min)

    waves = waves_from(snapshot.schedule, now)
    scale = arrival_scale(waves, snapshot.arrivals_per_min, cfg)
    total = expected_per_minute(waves, 0.0, horizon) * scale
    egate_in = total * p.egate_share
    officer_in = total * (1.0 - p.egate_share)
    egate_rate = 60.0 / p.egate_service_s * cfg.utilisation
    officer_rate = 60.0 / officer_mean_service_s(p) * cfg.utilisation
    egate_state = QueueState(snapshot.egate.queue_length, snapshot.egate.oldest_wait_s / 60.0)
    officer_state = QueueState(snapshot.officer.queue_length, snapshot.officer.oldest_wait_s / 60.0)
    commands: list[LaneCommand] = []

    # E-gates: all installed whenever e-gate travellers are expected soon or are waiting.
    e_committed, _ = lane_profile(snapshot.egate, now, horizon)
    e_installed = snapshot.egate.installed
    soon = delay + interval + 5
    demand_soon = snapshot.egate.queue_length > 0 or float(egate_in[:soon].sum()) >= 1.0
    demand_later = (
        demand_soon or float(egate_in[: soon + math.ceil(cfg.close_hold_min) + 15].sum()) >= 1.0
    )
    e_active = snapshot.egate.count("open", "opening")
    e_busy = snapshot.egate.count("open", "opening", "closing")
    e_plan = e_committed.astype(np.float64)
    if demand_soon and e_active < e_installed:
        n_open = e_installed - e_busy
        if n_open > 0:
            commands.append(
                LaneCommand("egate", "open", n_open, "e-gate travellers expected: all gates open")
            )
    if not demand_later and e_active > 0:
        closable = sum(
            1 for lane in snapshot.egate.lanes if lane.status == "open" and lane.closable_at <= now
        )
        if closable:
            commands.append(
                LaneCommand("egate", "close", closable, "no e-gate travellers expected")
            )
    # As planned: all gates from when e-gate travellers first come (the rule above opens them
    # that early), never before a gate ordered now could be ready.
    expected_e = np.nonzero(egate_in > 1e-3)[0]
    if snapshot.egate.queue_length > 0 or expected_e.shape[0]:
        first = 0 if snapshot.egate.queue_length > 0 else int(expected_e[0])
        start = max(delay, first)
        e_plan[start:] = np.maximum(e_plan[start:], e_installed)

    # Officer lanes.
    o_committed, o_locked = lane_profile(snapshot.officer, now, horizon)
    max_lanes = min(snapshot.officers_available, snapshot.officer.installed)
    e_proj_pre = project_hall(
        egate_in,
        officer_in,
        p.egate_fallback_share,
        egate_state,
        officer_state,
        e_plan,
        o_committed.astype(np.float64),
        egate_rate,
        officer_rate,
    )
    pre = e_proj_pre.egate.pre
    officer_all_in = officer_in + p.egate_fallback_share * e_proj_pre.egate.served[pre:]
    plan = plan_lanes(
        officer_all_in,
        officer_state,
        o_committed,
        o_locked,
        max_lanes,
        officer_rate,
        cfg.plan_wait_min,
        p.open_delay_min,
        p.min_open_min,
    )
    active = snapshot.officer.count("open", "opening")
    busy = snapshot.officer.count("open", "opening", "closing")
    window_end = min(horizon, delay + interval + 1)
    need_soon = int(plan.lanes[delay:window_end].max()) if window_end > delay else 0
    free_desks = max(0, min(max_lanes, snapshot.officer.installed) - busy)
    n_open = min(max(0, need_soon - int(o_committed[min(delay, horizon - 1)])), free_desks)
    if n_open > 0:
        commands.append(
            LaneCommand(
                "officer",
                "open",
                n_open,
                f"forecast needs {need_soon} officer lanes by {_clock(now, delay)}"
                f" to serve everyone within {cfg.plan_wait_min:g} min",
            )
        )
    keep_until = min(horizon, delay + interval + math.ceil(cfg.close_hold_min) + 1)
    keep = int(plan.lanes[:keep_until].max())
    if n_open == 0 and active > keep:
        closable = sum(
            1
            for lane in snapshot.officer.lanes
            if lane.status == "open" and lane.closable_at <= now
        )
        n_close = min(active - keep, closable)
        if n_close > 0:
            commands.append(
                LaneCommand(
                    "officer",
                    "close",
                    n_close,
                    f"forecast needs only {keep} officer lanes until {_clock(now, keep_until)}",
                )
            )

    # Projections for the alerts: lanes as they are, and as planned.
    as_is = project_hall(
        egate_in,
        officer_in,
        p.egate_fallback_share,
        egate_state,
        officer_state,
        e_committed.astype(np.float64),
        o_committed.astype(np.float64),
        egate_rate,
        officer_rate,
    )
    planned = project_hall(
        egate_in,
        officer_in,
        p.egate_fallback_share,
        egate_state,
        officer_state,
        e_plan,
        plan.lanes.astype(np.float64),
        egate_rate,
        officer_rate,
    )
    window = cfg.alert_window_min
    share_now = as_is.share_within(target, 0, window)
    share_planned = planned.share_within(target, 0, window)
    alerts: list[Alert] = []
    if share_now < cfg.target_share:
        short = np.nonzero(plan.lanes > o_committed)[0]
        start = int(short[0]) if short.shape[0] else 0
        extra = int(max(0, int((plan.lanes - o_committed)[: window + int(target)].max())))
        alerts.append(
            Alert(
                "forecast-at-risk",
                "warning",
                f"{snapshot.hall}: with the lanes now open, {share_now:.0%} of the next hour's"
                f" travellers would wait <= {target:g} min; {extra} more officer(s) needed"
                f" from {_clock(now, start)}",
                extra_officers=extra,
                from_time=now + timedelta(minutes=start),
            )
        )
    worst, where = worst_window_share(planned, target, window, horizon)
    if worst < cfg.target_share:
        breach = planned.first_breach(target)
        missing = 0
        if not plan.feasible:
            unbounded = plan_lanes(
                officer_all_in,
                officer_state,
                o_committed,
                o_locked,
                max_lanes + 200,
                officer_rate,
                cfg.plan_wait_min,
                p.open_delay_min,
                p.min_open_min,
            )
            missing = max(0, int(unbounded.lanes.max()) - max_lanes)
        at = breach if breach is not None else where
        alerts.append(
            Alert(
                "capacity-insufficient",
                "critical",
                f"{snapshot.hall}: even with all {max_lanes} officers and"
                f" {e_installed} e-gates, only {worst:.0%} of travellers arriving from"
                f" {_clock(now, where)} would wait <= {target:g} min; first over"
                f" {target:g} min at {_clock(now, at)}; {missing} more officer(s) needed",
                extra_officers=missing,
                from_time=now + timedelta(minutes=at),
            )
        )
    measured = share_within(list(snapshot.recent_waits_s), target * 60)
    oldest = max(snapshot.egate.oldest_wait_s, snapshot.officer.oldest_wait_s)
    if (
        measured is not None and len(snapshot.recent_waits_s) >= 20 and measured < cfg.target_share
    ) or oldest > target * 60:
        shown = "n/a" if measured is None else f"{measured:.0%}"
        alerts.append(
            Alert(
                "measured-wait-exceeded",
                "critical",
                f"{snapshot.hall}: measured share within {target:g} min in the last hour"
                f" {shown}; longest current wait {oldest / 60:.0f} min",
            )
        )
    return ControlDecision(
        at=now,
        commands=tuple(commands),
        alerts=tuple(alerts),
        arrival_scale=scale,
        share_next_hour_now=share_now,
        share_next_hour_planned=share_planned,
        planned_officer_lanes=tuple(int(x) for x in plan.lanes),
    )
