"""Staffing policies behind one interface: ``decide(snapshot) -> ControlDecision``.

- ``static``: the scenario's initially open lanes all day.
- ``reactive``: opens a lane when the oldest traveller in a queue has waited longer than a
  threshold (one lane per decision, none while one is still opening); closes one when the queue is
  shorter than the lanes open and nobody has waited long. Alerts only on measured waits.
- ``erlang``: per 15-minute interval, the lanes Erlang C requires for the forecast arrival rate
  at 95% within 25 minutes (``erlang.required_servers``), ordered ``open_delay`` ahead of the
  interval; alerts when even all lanes do not meet it in the next hour.
- ``bordergate``: ``controller.decide``.
- ``clairvoyant``: a lower bound on officer lane-hours (see ``ClairvoyantPolicy``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from queue_monitor.planning.arrivals import expected_per_minute
from queue_monitor.planning.controller import (
    Alert,
    ControlDecision,
    ControllerConfig,
    HallSnapshot,
    LaneCommand,
    LaneGroup,
    decide,
    officer_mean_service_s,
    waves_from,
)
from queue_monitor.planning.erlang import required_servers, service_level
from queue_monitor.planning.scenario import LaneType, Scenario
from queue_monitor.planning.simulator import Population

FloatArray = npt.NDArray[np.float64]
TARGET_MIN = 25.0
TARGET_SHARE = 0.95
INTERVAL_MIN = 15


def make_decision(
    now: datetime, commands: list[LaneCommand], alerts: list[Alert] | None = None
) -> ControlDecision:
    return ControlDecision(
        at=now,
        commands=tuple(commands),
        alerts=tuple(alerts or ()),
        arrival_scale=1.0,
        share_next_hour_now=float("nan"),
        share_next_hour_planned=float("nan"),
        planned_officer_lanes=(),
    )


def _closable(group: LaneGroup, now: datetime) -> int:
    return sum(1 for lane in group.lanes if lane.status == "open" and lane.closable_at <= now)


def lane_commands(
    group: LaneGroup, lane_type: LaneType, want: int, keep: int, now: datetime, reason: str
) -> list[LaneCommand]:
    """Commands to have ``want`` lanes open (or opening), closing only below ``keep``."""
    active = group.count("open", "opening")
    busy = group.count("open", "opening", "closing")
    if want > active:
        n = min(want - active, group.installed - busy)
        return [LaneCommand(lane_type, "open", n, reason)] if n > 0 else []
    if active > keep:
        n = min(active - keep, _closable(group, now))
        return [LaneCommand(lane_type, "close", n, reason)] if n > 0 else []
    return []


def _measured_alert(snapshot: HallSnapshot) -> list[Alert]:
    oldest = max(snapshot.egate.oldest_wait_s, snapshot.officer.oldest_wait_s)
    if oldest > TARGET_MIN * 60:
        return [
            Alert(
                "measured-wait-exceeded",
                "critical",
                f"{snapshot.hall}: a traveller has waited {oldest / 60:.0f} min",
            )
        ]
    return []


@dataclass
class StaticPolicy:
    name: str = "static"
    relaxed: bool = False

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        return make_decision(snapshot.now, [])


@dataclass
class ReactivePolicy:
    open_after_min: float = 10.0
    name: str = "reactive"
    relaxed: bool = False

    def _one(self, group: LaneGroup, lane_type: LaneType, now: datetime) -> list[LaneCommand]:
        active = group.count("open", "opening")
        if group.oldest_wait_s > self.open_after_min * 60 and group.count("opening") == 0:
            return lane_commands(group, lane_type, active + 1, active, now, "measured wait high")
        if group.queue_length < max(1, active) and group.oldest_wait_s < 120:
            keep = max(0 if group.queue_length == 0 else 1, active - 1)
            return lane_commands(group, lane_type, 0, keep, now, "queue short")
        return []

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        commands = self._one(snapshot.egate, "egate", snapshot.now)
        commands += self._one(snapshot.officer, "officer", snapshot.now)
        return make_decision(snapshot.now, commands, _measured_alert(snapshot))


@dataclass
class ErlangPolicy:
    """Lanes per 15-minute interval from Erlang C on the forecast rate (no backlog, no
    forecast correction): the usual steady-state staffing."""

    name: str = "erlang"
    relaxed: bool = False
    origin: datetime | None = None
    _cache: dict[tuple[str, int], tuple[int, int, bool]] = field(default_factory=dict)

    def _required(self, snapshot: HallSnapshot, k: int, origin: datetime) -> tuple[int, int, bool]:
        key = (snapshot.hall, k)
        if key in self._cache:
            return self._cache[key]
        p = snapshot.params
        start = origin + timedelta(minutes=k * INTERVAL_MIN)
        waves = waves_from(snapshot.schedule, start)
        per_min = float(expected_per_minute(waves, 0.0, INTERVAL_MIN).sum()) / INTERVAL_MIN
        e_rate = per_min * p.egate_share / 60.0
        o_rate = per_min * ((1 - p.egate_share) + p.egate_share * p.egate_fallback_share) / 60.0
        o_mean = officer_mean_service_s(p)
        max_o = min(snapshot.officers_available, snapshot.officer.installed)
        e = required_servers(
            e_rate, p.egate_service_s, TARGET_MIN * 60, TARGET_SHARE, snapshot.egate.installed
        )
        o = required_servers(o_rate, o_mean, TARGET_MIN * 60, TARGET_SHARE, max_o)
        ok = (
            service_level(e, e_rate * p.egate_service_s, TARGET_MIN * 60, p.egate_service_s)
            >= TARGET_SHARE
            and service_level(o, o_rate * o_mean, TARGET_MIN * 60, o_mean) >= TARGET_SHARE
        )
        self._cache[key] = (e, o, ok)
        return e, o, ok

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        origin = self.origin or snapshot.now
        self.origin = origin
        now_min = (snapshot.now - origin).total_seconds() / 60
        k_now = int(now_min // INTERVAL_MIN)
        k_ahead = int((now_min + snapshot.params.open_delay_min) // INTERVAL_MIN)
        e_now, o_now, _ = self._required(snapshot, k_now, origin)
        e_ahead, o_ahead, _ = self._required(snapshot, k_ahead, origin)
        # Nobody closes a desk in front of a queue: keep lanes while people wait.
        o_keep = max(o_now, o_ahead)
        if snapshot.officer.queue_length >= snapshot.officer.count("open"):
            o_keep = max(o_keep, snapshot.officer.count("open", "opening"))
        e_keep = max(e_now, e_ahead)
        if snapshot.egate.queue_length >= snapshot.egate.count("open"):
            e_keep = max(e_keep, snapshot.egate.count("open", "opening"))
        commands = lane_commands(
            snapshot.egate,
            "egate",
            max(e_ahead, min(1, snapshot.egate.queue_length)),
            e_keep,
            snapshot.now,
            "Erlang C",
        )
        commands += lane_commands(
            snapshot.officer,
            "officer",
            max(o_ahead, min(1, snapshot.officer.queue_length)),
            o_keep,
            snapshot.now,
            "Erlang C",
        )
        alerts = _measured_alert(snapshot)
        horizon = 60 // INTERVAL_MIN
        short = [
            k
            for k in range(k_now, k_now + horizon + 1)
            if not self._required(snapshot, k, origin)[2]
        ]
        if short:
            alerts.append(
                Alert(
                    "capacity-insufficient",
                    "critical",
                    f"{snapshot.hall}: Erlang C needs more lanes than installed",
                    from_time=origin + timedelta(minutes=short[0] * INTERVAL_MIN),
                )
            )
        return make_decision(snapshot.now, commands, alerts)


@dataclass
class BordergatePolicy:
    config: ControllerConfig = field(default_factory=ControllerConfig)
    name: str = "bordergate"
    relaxed: bool = False

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        return decide(snapshot, self.config)


def egate_stage(pop: Population, gates: int) -> tuple[FloatArray, FloatArray]:
    """Every e-gate open all the time: each e-gate traveller's wait and leaving time (min)."""
    idx = np.nonzero(pop.egate)[0]
    waits = np.zeros(pop.arrival.shape[0])
    leave = np.array(pop.arrival, dtype=np.float64)
    if gates <= 0:
        waits[idx] = np.inf
        leave[idx] = np.inf
        return waits, leave
    free = [0.0] * gates
    for i in idx:
        f = heapq.heappop(free)
        start = max(float(pop.arrival[i]), f)
        waits[i] = start - float(pop.arrival[i])
        done = start + float(pop.egate_service[i])
        leave[i] = done
        heapq.heappush(free, done)
    return waits, leave


@dataclass
class _Queue:
    """The officer queue of the clairvoyant: join times, service, wait budget, in FIFO order."""

    join: FloatArray
    service: FloatArray
    budget: FloatArray


def _run(
    q: _Queue,
    j: int,
    free: FloatArray,
    lanes: dict[int, int],
    default_lanes: int,
    stop_at: float,
    until_join: float,
    not_before: float,
) -> tuple[int, int, float]:
    """FIFO from customer ``j``: lanes ``0..m-1`` accept in 15-minute interval ``k``, where
    ``m = lanes.get(k, default_lanes)``. Mutates ``free`` (when each lane is next free).
    Nobody starts before ``not_before``. Stops at the first customer who would start at or after
    ``stop_at`` or who joins after ``until_join``. Returns (next customer, customers over their
    budget, total minutes over budget)."""
    n = q.join.shape[0]
    over = 0
    excess = 0.0
    last_start = not_before
    while j < n and q.join[j] <= until_join:
        t = max(float(q.join[j]), last_start)
        while True:
            k = int(t // INTERVAL_MIN)
            m = lanes.get(k, default_lanes)
            if m > 0:
                i = int(np.argmin(free[:m]))
                start = max(t, float(free[i]))
                if start < (k + 1) * INTERVAL_MIN:
                    break
            t = (k + 1) * INTERVAL_MIN
        if start >= stop_at:
            return j, over, excess
        late = start - float(q.join[j]) - float(q.budget[j])
        if late > 1e-9:
            over += 1
            excess += late
        free[i] = start + float(q.service[j])
        last_start = start
        j += 1
    return j, over, excess


def clairvoyant_schedule(scenario: Scenario, pop: Population) -> list[int]:
    """Officer lanes per 15-minute interval, knowing the actual travellers.

    Method: e-gates all open; the officer queue gets the actual direct travellers and fallbacks
    (at the time they leave their gate) with their actual service times; each traveller's budget
    is 25 minutes minus their e-gate wait. Lanes change instantly (no opening delay, no minimum
    open time). Interval by interval, the fewest lanes are chosen (bisection) such that, with
    every lane open in all later intervals, no more travellers miss their budget, and by no more
    minutes in total, than would with every lane open now too (what cannot be helped). Work is
    thus done as late as the deadlines allow, the way that keeps lanes busy, so the lane-hours
    are a lower bound for any policy that serves (nearly) everyone within 25 minutes and has to
    respect delays, minimum open times and forecast error. (Greedy, not a proven optimum; and
    a policy may let up to 5% wait longer, which this bound does not exploit.)
    """
    wait_e, leave_e = egate_stage(pop, scenario.lanes.egate)
    officer_side = ~pop.egate | pop.fallback
    idx = np.nonzero(officer_side)[0]
    join = np.where(pop.egate[idx], leave_e[idx], pop.arrival[idx])
    order = np.argsort(join, kind="stable")
    idx, join = idx[order], join[order]
    q = _Queue(join, pop.officer_service[idx], TARGET_MIN - wait_e[idx])
    n_max = scenario.lanes.officer
    intervals = math.ceil(scenario.hours * 60 / INTERVAL_MIN) + 1
    if n_max == 0:
        return [0] * intervals
    schedule: list[int] = []
    free = np.zeros(n_max)
    j = 0
    k = 0
    while (j < q.join.shape[0] or k < intervals) and k <= intervals + 24 * 4:
        start = k * INTERVAL_MIN
        end = start + INTERVAL_MIN
        look = end + TARGET_MIN + 60

        def trial(n: int, j: int, k: int, start: float, look: float) -> tuple[int, float]:
            _, over, excess = _run(q, j, free.copy(), {k: n}, n_max, math.inf, look, start)
            return over, excess

        floor_over, floor_excess = trial(n_max, j, k, start, look)
        lo, hi = 0, n_max
        while lo < hi:
            mid = (lo + hi) // 2
            over, excess = trial(mid, j, k, start, look)
            if over <= floor_over and excess <= floor_excess + 1e-6:
                hi = mid
            else:
                lo = mid + 1
        schedule.append(lo)
        j, _, _ = _run(q, j, free, {k: lo}, n_max, end, math.inf, start)
        k += 1
    return schedule


@dataclass
class ClairvoyantPolicy:
    """Applies ``clairvoyant_schedule`` (lanes change instantly: ``relaxed``)."""

    schedule: list[int]
    origin: datetime
    name: str = "clairvoyant"
    relaxed: bool = True

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        k = int((snapshot.now - self.origin).total_seconds() / 60 // INTERVAL_MIN)
        want = self.schedule[k] if 0 <= k < len(self.schedule) else 0
        commands = lane_commands(
            snapshot.egate,
            "egate",
            snapshot.egate.installed,
            snapshot.egate.installed,
            snapshot.now,
            "all e-gates",
        )
        commands += lane_commands(
            snapshot.officer, "officer", want, want, snapshot.now, "clairvoyant schedule"
        )
        return make_decision(snapshot.now, commands)


POLICY_NAMES = ("static", "reactive", "erlang", "bordergate", "clairvoyant")


def make_policy(
    name: str, scenario: Scenario, population: Population
) -> StaticPolicy | ReactivePolicy | ErlangPolicy | BordergatePolicy | ClairvoyantPolicy:
    if name == "static":
        return StaticPolicy()
    if name == "reactive":
        return ReactivePolicy()
    if name == "erlang":
        return ErlangPolicy(origin=scenario.start)
    if name == "bordergate":
        return BordergatePolicy()
    if name == "clairvoyant":
        return ClairvoyantPolicy(clairvoyant_schedule(scenario, population), scenario.start)
    raise ValueError(f"unknown policy {name!r} (one of {', '.join(POLICY_NAMES)})")
