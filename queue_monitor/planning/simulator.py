"""A discrete-event simulation (SimPy) of an inspection hall with e-gates and officer desks.

Travellers arrive per the scenario (``arrivals.sample_arrival_times``: seeded forecast error and
random times). Eligible ones (``egate_share``) queue for the e-gates; ``egate_fallback_share`` of
them, after their gate attempt, queue again for an officer and are served as a referral
(``REFERRAL_SERVICE``, 3-5 minutes per DESIGN.md). The others queue for an officer. Each lane
type has one FIFO queue feeding its open lanes (a serpentine queue). Service times are gamma
with the scenario's mean and cv (cv 1 is exponential, so an M/M/c case is exactly that).

Lanes are opened and closed only by the policy, every ``decision_interval_min`` simulated
minutes, through the same ``HallSnapshot`` / ``ControlDecision`` the live monitor uses. A lane
ordered open is *opening* for ``open_delay_min`` then *open*; it may be closed once it has been
open ``min_open_min``; a busy lane ordered closed finishes its traveller (*closing*). Lane-hours
count every minute a lane is opening, open or closing (the officer is committed then). The run
lasts the scenario's hours and then until the last traveller is served.

A traveller's wait is their total time queueing (e-gate plus officer for a fallback), service
excluded.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from queue_monitor.planning.arrivals import Wave, sample_arrival_times
from queue_monitor.planning.controller import (
    AlertKind,
    ControlDecision,
    HallParameters,
    HallSnapshot,
    Lane,
    LaneGroup,
    LaneStatus,
)
from queue_monitor.planning.scenario import LANE_TYPES, LaneType, Scenario, ServiceTime
from queue_monitor.waits import RollingWaits

FloatArray = npt.NDArray[np.float64]

REFERRAL_SERVICE = ServiceTime(mean=240.0, cv=0.25)
TARGET_MIN = 25.0
RECENT_WINDOW_MIN = 60


class Policy(Protocol):
    """What the simulator needs of a staffing policy."""

    name: str
    relaxed: bool  # zero opening delay and no minimum open time (the clairvoyant bound)

    def decide(self, snapshot: HallSnapshot) -> ControlDecision: ...


@dataclass(slots=True)
class Traveller:
    arrival: float
    egate: bool
    fallback: bool
    egate_service: float
    officer_service: float
    joined: float = 0.0
    egate_wait: float = 0.0
    wait: float = 0.0
    breach_at: float | None = None  # when their wait passed the target, if it did
    done_at: float | None = None


@dataclass(frozen=True, slots=True)
class Population:
    """The actual travellers of one run (same for every policy with the same seed)."""

    arrival: FloatArray
    egate: npt.NDArray[np.bool_]
    fallback: npt.NDArray[np.bool_]
    egate_service: FloatArray  # minutes
    officer_service: FloatArray  # minutes (referral time for fallbacks)

    def travellers(self) -> list[Traveller]:
        return [
            Traveller(float(a), bool(e), bool(f), float(se), float(so))
            for a, e, f, se, so in zip(
                self.arrival,
                self.egate,
                self.fallback,
                self.egate_service,
                self.officer_service,
                strict=True,
            )
        ]


def gamma_minutes(rng: np.random.Generator, service: ServiceTime, n: int) -> FloatArray:
    """``n`` gamma service times in minutes with the given mean (s) and cv."""
    mean = service.mean / 60.0
    if service.cv <= 1e-9:
        return np.full(n, mean)
    shape = 1.0 / service.cv**2
    return rng.gamma(shape, mean / shape, n)


def scenario_waves(scenario: Scenario) -> list[Wave]:
    return [
        Wave(scenario.minutes_after_start(w.at), float(w.passengers), w.profile, w.over_min)
        for w in scenario.arrivals
    ]


def draw_population(scenario: Scenario, seed: int | None = None) -> Population:
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    times = sample_arrival_times(
        scenario_waves(scenario), rng, scenario.forecast_error, scenario.actual_factor
    )
    n = times.shape[0]
    egate = np.less(rng.random(n), scenario.egate_share)
    fallback = np.logical_and(egate, np.less(rng.random(n), scenario.egate_fallback_share))
    egate_service = gamma_minutes(rng, scenario.service_s.egate, n)
    officer_service = np.where(
        fallback,
        gamma_minutes(rng, REFERRAL_SERVICE, n),
        gamma_minutes(rng, scenario.service_s.officer, n),
    )
    return Population(times, egate, fallback, egate_service, officer_service)


def hall_parameters(scenario: Scenario) -> HallParameters:
    return HallParameters(
        egate_service_s=scenario.service_s.egate.mean,
        officer_service_s=scenario.service_s.officer.mean,
        referral_service_s=REFERRAL_SERVICE.mean,
        egate_share=scenario.egate_share,
        egate_fallback_share=scenario.egate_fallback_share,
        open_delay_min=scenario.open_delay_min,
        min_open_min=scenario.min_open_min,
    )


LaneState = Literal["closed", "opening", "open", "closing"]
_STATUS: dict[LaneState, LaneStatus] = {
    "open": "open",
    "opening": "opening",
    "closing": "closing",
    "closed": "closing",  # never shown: closed lanes are not in a snapshot
}


@dataclass(slots=True)
class SimLane:
    state: LaneState = "closed"
    ready_at: float = 0.0
    busy: bool = False


class LanePool:
    """The lanes of one type and their FIFO queue."""

    def __init__(
        self,
        env: simpy.Environment,
        lane_type: LaneType,
        installed: int,
        open_delay: float,
        min_open: float,
        on_served: Callable[[Traveller, float], None],
    ) -> None:
        self.env = env
        self.lane_type = lane_type
        self.lanes = [SimLane() for _ in range(installed)]
        self.open_delay = open_delay
        self.min_open = min_open
        self.on_served = on_served
        self.queue: deque[Traveller] = deque()
        self.lane_minutes = 0.0
        self._active = 0
        self._since = 0.0

    # lane-minutes: integrate the active count between changes
    def _account(self) -> None:
        now = float(self.env.now)
        self.lane_minutes += self._active * (now - self._since)
        self._since = now
        self._active = sum(1 for lane in self.lanes if lane.state != "closed")

    @property
    def active(self) -> int:
        return self._active

    def finish(self) -> None:
        self._account()

    def join(self, traveller: Traveller) -> None:
        traveller.joined = float(self.env.now)
        self.queue.append(traveller)
        self._dispatch()

    def _dispatch(self) -> None:
        for lane in self.lanes:
            if not self.queue:
                return
            if lane.state == "open" and not lane.busy:
                lane.busy = True  # now, not when the process starts: same-time dispatches
                self.env.process(self._serve(lane, self.queue.popleft()))

    def _serve(self, lane: SimLane, traveller: Traveller) -> Generator[simpy.Event, Any, None]:
        now = float(self.env.now)
        waited = now - traveller.joined
        service = (
            traveller.egate_service if self.lane_type == "egate" else traveller.officer_service
        )
        yield self.env.timeout(service)
        lane.busy = False
        if lane.state == "closing":
            lane.state = "closed"
            self._account()
        self.on_served(traveller, waited)
        self._dispatch()

    def open(self, n: int, relaxed: bool) -> int:
        opened = 0
        for lane in self.lanes:
            if opened >= n:
                break
            if lane.state == "closed":
                opened += 1
                delay = 0.0 if relaxed else self.open_delay
                lane.state = "opening"
                lane.ready_at = float(self.env.now) + delay
                self.env.process(self._ready(lane, delay))
        if opened:
            self._account()
        return opened

    def _ready(self, lane: SimLane, delay: float) -> Generator[simpy.Event, Any, None]:
        if delay > 0:
            yield self.env.timeout(delay)
        if lane.state == "opening":
            lane.state = "open"
            self._dispatch()

    def closable(self, lane: SimLane, relaxed: bool) -> bool:
        hold = 0.0 if relaxed else self.min_open
        return lane.state == "open" and float(self.env.now) >= lane.ready_at + hold - 1e-9

    def close(self, n: int, relaxed: bool) -> int:
        closed = 0
        # idle lanes first, then busy ones (they finish their traveller)
        for want_busy in (False, True):
            for lane in reversed(self.lanes):
                if closed >= n:
                    break
                if lane.busy == want_busy and self.closable(lane, relaxed):
                    lane.state = "closing" if lane.busy else "closed"
                    closed += 1
        if closed:
            self._account()
        return closed

    def group(self, start: datetime, relaxed: bool) -> LaneGroup:
        now = float(self.env.now)
        hold = 0.0 if relaxed else self.min_open
        lanes = tuple(
            Lane(
                status=_STATUS[lane.state],
                ready_at=start + timedelta(minutes=lane.ready_at),
                closable_at=start + timedelta(minutes=lane.ready_at + hold),
            )
            for lane in self.lanes
            if lane.state != "closed"
        )
        oldest = (now - self.queue[0].joined) * 60.0 if self.queue else 0.0
        return LaneGroup(
            installed=len(self.lanes),
            queue_length=len(self.queue),
            oldest_wait_s=oldest,
            lanes=lanes,
        )


@dataclass(slots=True)
class AlertRecord:
    """One alert episode: raised when its kind first appears in a decision, cleared when a
    later decision no longer has it."""

    at_min: float
    kind: str
    message: str
    cleared_min: float | None = None


@dataclass(slots=True)
class SimResult:
    scenario: str
    policy: str
    travellers: list[Traveller]
    lane_minutes: dict[str, float]
    alerts: list[AlertRecord]
    end_min: float
    timeline_min: list[float] = field(default_factory=list)
    queue: dict[str, list[int]] = field(default_factory=dict)
    lanes_open: dict[str, list[int]] = field(default_factory=dict)

    @property
    def waits_min(self) -> list[float]:
        return [t.wait for t in self.travellers]


def simulate(
    scenario: Scenario,
    policy: Policy,
    *,
    seed: int | None = None,
    population: Population | None = None,
    decision_interval_min: float = 5.0,
    max_drain_min: float = 24 * 60,
) -> SimResult:
    """Run one scenario under one policy; same seed, same travellers for every policy."""
    env = simpy.Environment()
    pop = population if population is not None else draw_population(scenario, seed)
    travellers = pop.travellers()
    relaxed = policy.relaxed
    params = hall_parameters(scenario)
    recent = RollingWaits(window_s=RECENT_WINDOW_MIN * 60.0, target_s=TARGET_MIN * 60.0)
    remaining = [len(travellers)]
    all_done = env.event()

    def note_breach(t: Traveller, breach_at: float) -> None:
        if t.breach_at is None:
            t.breach_at = breach_at

    def served_officer(t: Traveller, waited: float) -> None:
        t.wait = t.egate_wait + waited
        if t.wait > TARGET_MIN:
            note_breach(t, t.joined + (TARGET_MIN - t.egate_wait))
        finish(t)

    def served_egate(t: Traveller, waited: float) -> None:
        t.egate_wait = waited
        if waited > TARGET_MIN:
            note_breach(t, t.joined + TARGET_MIN)
        if t.fallback:
            officer.join(t)
        else:
            t.wait = waited
            finish(t)

    def finish(t: Traveller) -> None:
        now = float(env.now)
        t.done_at = now
        recent.add(now * 60.0, t.wait * 60.0)
        remaining[0] -= 1
        if remaining[0] == 0 and not all_done.triggered:
            all_done.succeed()

    pools: dict[LaneType, LanePool] = {
        "egate": LanePool(
            env,
            "egate",
            scenario.lanes.egate,
            scenario.open_delay_min,
            scenario.min_open_min,
            served_egate,
        ),
        "officer": LanePool(
            env,
            "officer",
            scenario.lanes.officer,
            scenario.open_delay_min,
            scenario.min_open_min,
            served_officer,
        ),
    }
    egate, officer = pools["egate"], pools["officer"]
    for lane_type in LANE_TYPES:
        pool = pools[lane_type]
        for lane in pool.lanes[: scenario.initially_open.of(lane_type)]:
            lane.state = "open"
            lane.ready_at = 0.0
        pool.finish()

    minutes_total = math.ceil(scenario.hours * 60)
    counts = np.bincount(
        np.clip(pop.arrival.astype(np.int64), 0, None), minlength=minutes_total + 1
    )

    def arrive() -> Generator[simpy.Event, Any, None]:
        for t in travellers:
            if t.arrival > env.now:
                yield env.timeout(t.arrival - float(env.now))
            (egate if t.egate else officer).join(t)

    alerts: list[AlertRecord] = []
    active_kinds: dict[AlertKind, AlertRecord] = {}

    def control() -> Generator[simpy.Event, Any, None]:
        while True:
            now = float(env.now)
            minute = int(now)
            lo = max(0, minute - RECENT_WINDOW_MIN)
            snapshot = HallSnapshot(
                hall=str(scenario.hall),
                now=scenario.start + timedelta(minutes=now),
                params=params,
                egate=egate.group(scenario.start, relaxed),
                officer=officer.group(scenario.start, relaxed),
                officers_available=scenario.lanes.officer,
                schedule=tuple(scenario.arrivals),
                arrivals_per_min=tuple(int(c) for c in counts[lo:minute]),
                recent_waits_s=tuple(recent.waits(now * 60.0)),
                active_alerts=tuple(active_kinds),
            )
            decision = policy.decide(snapshot)
            for command in decision.commands:
                pool = pools[command.lane_type]
                if command.action == "open":
                    pool.open(command.count, relaxed)
                else:
                    pool.close(command.count, relaxed)
            kinds = {a.kind for a in decision.alerts}
            for alert in decision.alerts:
                if alert.kind not in active_kinds:
                    active_kinds[alert.kind] = AlertRecord(now, alert.kind, alert.message)
                    alerts.append(active_kinds[alert.kind])
            for kind in [k for k in active_kinds if k not in kinds]:
                active_kinds.pop(kind).cleared_min = now
            yield env.timeout(decision_interval_min)

    timeline: list[float] = []
    queue: dict[str, list[int]] = {"egate": [], "officer": []}
    lanes_open: dict[str, list[int]] = {"egate": [], "officer": []}

    def sample() -> Generator[simpy.Event, Any, None]:
        while True:
            timeline.append(float(env.now))
            for lane_type in LANE_TYPES:
                queue[lane_type].append(len(pools[lane_type].queue))
                lanes_open[lane_type].append(pools[lane_type].active)
            yield env.timeout(1.0)

    env.process(arrive())
    env.process(control())
    env.process(sample())
    env.run(until=float(minutes_total))
    if remaining[0] > 0:
        env.run(until=env.any_of([all_done, env.timeout(max_drain_min)]))
    end = float(env.now)
    for pool in pools.values():
        pool.finish()
    for t in travellers:  # still waiting when the run was cut off: their wait so far
        if t.done_at is None:
            t.wait = end - t.arrival
            if t.wait > TARGET_MIN and t.breach_at is None:
                t.breach_at = t.arrival + TARGET_MIN
    return SimResult(
        scenario=scenario.name,
        policy=policy.name,
        travellers=travellers,
        lane_minutes={k: pools[k].lane_minutes for k in LANE_TYPES},
        alerts=alerts,
        end_min=end,
        timeline_min=timeline,
        queue=queue,
        lanes_open=lanes_open,
    )
