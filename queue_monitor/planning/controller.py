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
   idle). The lanes open now serve until a new lane could be ready (the waiting queue is placed
   at the minutes the hall's recent arrivals came in). Lanes for the mean need until the
   *next* decision could have lanes ready are opened now (on a ramp the plan's deadline slack
   absorbs the difference); lanes not needed from then until ``close_hold_min`` after it, past
   their minimum open time, not kept busy by the queue at hand until the next decision and not
   needed back soon once closed, are closed.
4. **Alerts** (meaningful ones: at least ``alert_min_travellers`` affected, and a kind in force
   (``HallSnapshot.active_alerts``) clears only at ``alert_clear_share``, so it does not flap):
   ``capacity-insufficient`` (critical) when the officers on duty are too few for the plan and
   even every installed lane and officer cannot keep some hour of the horizon at 95%, with the
   officers missing and when the first traveller passes 25 minutes; ``forecast-at-risk``
   (warning) when even the planned lanes leave the next hour under 95% (officers missing, or
   lanes that cannot be ready in time), not when the lanes open now fall short (opening lanes
   is the controller's job); ``measured-wait-exceeded`` (critical) when under 95% of the waits
   measured in the last hour were within 25 minutes, or enough people are waiting over 25
   minutes now (one straggler is not an alert).

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
from queue_monitor.planning.lane_plan import LanePlan, plan_lanes
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
    active_alerts: tuple[AlertKind, ...] = ()  # kinds in force from earlier decisions


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
    plan_wait_min: float = 24.0
    utilisation: float = 1.0
    horizon_min: int = 180
    decision_interval_min: float = 5.0
    alert_window_min: int = 60
    close_hold_min: float = 10.0
    scale_credibility: float = 400.0  # forecast travellers in the last hour for full weight
    max_scale: float = 2.0
    alert_min_travellers: float = 10.0  # fewer over the target is a straggler, not an alert
    alert_min_samples: int = 20  # measured waits needed to judge the measured share
    alert_clear_share: float = 0.97  # a kind in force clears only at this share (hysteresis)


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


def busy_lanes(arrivals: FloatArray, state: QueueState, rate: float, minutes: int) -> int:
    """Lanes the queue and the arrivals keep busy for each of the next ``minutes`` minutes."""
    if minutes <= 0:
        return 0
    work = state.length + np.cumsum(arrivals[:minutes])
    span = np.arange(1, work.shape[0] + 1, dtype=np.float64) * rate
    return int(max(0.0, float((work / span).min())) + 1e-9)


def waiting_over_target(group: LaneGroup, target_min: float) -> float:
    """About how many of those waiting now have waited over the target: the queue spread evenly
    over the oldest one's wait (one straggler over it counts for little)."""
    oldest = group.oldest_wait_s / 60.0
    if group.queue_length <= 0 or oldest <= target_min:
        return 0.0
    return max(1.0, group.queue_length * (oldest - target_min) / oldest)


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
    # The waiting travellers came in with the hall's recent arrivals (FIFO: the last ones).
    recent = tuple(float(a) for a in snapshot.arrivals_per_min)
    egate_state = QueueState(
        snapshot.egate.queue_length, snapshot.egate.oldest_wait_s / 60.0, recent
    )
    officer_state = QueueState(
        snapshot.officer.queue_length, snapshot.officer.oldest_wait_s / 60.0, recent
    )
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

    # The lanes open (or opening) now serve until a lane ordered now could be ready: closing one
    # before then cannot be undone before then, so the plan keeps them; otherwise the fluid
    # plan would defer their work past the opening delay and ask for more lanes than the
    # steady state needs there (and the controller would open them: a ratchet).
    def officer_plan(close: int) -> LanePlan:
        committed = o_committed - close
        floor = np.zeros(horizon, dtype=np.int64)
        floor[:delay] = committed[:delay]
        return plan_lanes(
            officer_all_in,
            officer_state,
            committed,
            o_locked,
            max_lanes,
            officer_rate,
            cfg.plan_wait_min,
            p.open_delay_min,
            p.min_open_min,
            floor=floor,
        )

    plan = officer_plan(0)
    active = snapshot.officer.count("open", "opening")
    busy = snapshot.officer.count("open", "opening", "closing")
    window_end = min(horizon, delay + interval)
    need_soon = (
        math.ceil(float(plan.lanes[delay:window_end].mean()) - 1e-9) if window_end > delay else 0
    )
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
    # Close the lanes the plan does not need from when a closed lane could be back (the
    # delay) until after the next decision plus ``close_hold_min``, provided the plan
    # without them (they stop serving now) still does not need them back in that time.
    keep_from = min(delay, horizon - 1)
    keep_until = min(horizon, delay + interval + math.ceil(cfg.close_hold_min) + 1)
    keep = int(plan.lanes[keep_from:keep_until].max())
    if n_open == 0 and active > keep:
        closable = sum(
            1
            for lane in snapshot.officer.lanes
            if lane.status == "open" and lane.closable_at <= now
        )
        busy_now = busy_lanes(officer_all_in, officer_state, officer_rate, delay + interval)
        n_close = min(active - max(keep, busy_now), closable)
        while n_close > 0:
            without = officer_plan(n_close)
            if int(without.lanes[keep_from:keep_until].max()) <= active - n_close:
                break
            n_close -= 1
        if n_close > 0:
            commands.append(
                LaneCommand(
                    "officer",
                    "close",
                    n_close,
                    f"forecast needs only {active - n_close} officer lanes until"
                    f" {_clock(now, keep_until)}",
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
    in_force = set(snapshot.active_alerts)

    def at_risk(kind: AlertKind, share: float, over: float) -> bool:
        """Raise under ``target_share`` with enough travellers over the target; keep a kind in
        force until its share is back at ``alert_clear_share`` (hysteresis)."""
        if kind in in_force:
            return share < cfg.alert_clear_share and over >= 1.0
        return share < cfg.target_share and over >= cfg.alert_min_travellers

    missing: int | None = None

    def officers_missing() -> int:
        nonlocal missing
        if missing is None:
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
        return missing

    # Officers short: even every officer on duty cannot keep some hour of the horizon at 95%.
    worst, where = worst_window_share(planned, target, window, horizon)
    worst_over = planned.travellers_over(target, where, where + window)
    if not plan.feasible and at_risk("capacity-insufficient", worst, worst_over):
        breach = planned.first_breach(target)
        at = breach if breach is not None else where
        alerts.append(
            Alert(
                "capacity-insufficient",
                "critical",
                f"{snapshot.hall}: even with all {max_lanes} officers and"
                f" {e_installed} e-gates, only {worst:.0%} of travellers arriving from"
                f" {_clock(now, where)} would wait <= {target:g} min; first over"
                f" {target:g} min at {_clock(now, at)}; {officers_missing()} more officer(s)"
                " needed",
                extra_officers=officers_missing(),
                from_time=now + timedelta(minutes=at),
            )
        )
    # The next hour at risk even with the lanes the controller plans (not merely with the lanes
    # open now: opening lanes is the controller's job, not an alert).
    over_planned = planned.travellers_over(target, 0, window)
    if at_risk("forecast-at-risk", share_planned, over_planned):
        breach = planned.first_breach(target)
        start = breach if breach is not None else 0
        extra = officers_missing() if not plan.feasible else 0
        why = (
            f"{extra} more officer(s) needed"
            if extra
            else f"lanes cannot be ready sooner (opening takes {p.open_delay_min:g} min)"
        )
        alerts.append(
            Alert(
                "forecast-at-risk",
                "warning",
                f"{snapshot.hall}: even with the planned lanes, {share_planned:.0%} of the next"
                f" hour's travellers would wait <= {target:g} min (about {over_planned:.0f}"
                f" over); first over {target:g} min at {_clock(now, start)}; {why}",
                extra_officers=extra,
                from_time=now + timedelta(minutes=start),
            )
        )
    # Measured: a meaningful share of the recent travellers over the target, or enough people
    # waiting over it now (not one straggler).
    waits = snapshot.recent_waits_s
    measured = share_within(list(waits), target * 60)
    measured_over = sum(1 for w in waits if w > target * 60)
    waiting_over = waiting_over_target(snapshot.egate, target) + waiting_over_target(
        snapshot.officer, target
    )
    enough = len(waits) >= cfg.alert_min_samples
    raise_measured = (
        enough
        and measured is not None
        and measured < cfg.target_share
        and measured_over >= cfg.alert_min_travellers
    ) or waiting_over >= cfg.alert_min_travellers
    keep_measured = "measured-wait-exceeded" in in_force and (
        (enough and measured is not None and measured < cfg.alert_clear_share)
        or waiting_over >= 1.0
    )
    if raise_measured or keep_measured:
        oldest = max(snapshot.egate.oldest_wait_s, snapshot.officer.oldest_wait_s)
        shown = "n/a" if measured is None else f"{measured:.0%}"
        alerts.append(
            Alert(
                "measured-wait-exceeded",
                "critical",
                f"{snapshot.hall}: measured share within {target:g} min of the last"
                f" {len(waits)} travellers {shown}; about {waiting_over:.0f} waiting over"
                f" {target:g} min now (longest {oldest / 60:.0f} min)",
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
