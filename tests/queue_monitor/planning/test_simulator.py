"""The SimPy hall: Erlang C in steady state, lane rules, and the bookkeeping."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from queue_monitor.planning.controller import ControlDecision, HallSnapshot, LaneCommand
from queue_monitor.planning.erlang import erlang_c, service_level
from queue_monitor.planning.policies import StaticPolicy
from queue_monitor.planning.scenario import Scenario, parse_scenario
from queue_monitor.planning.simulator import Population, draw_population, simulate

from .conftest import small_data


def mmc_scenario(servers: int, hours: float) -> Scenario:
    data = small_data(
        hours=hours,
        lanes={"egate": 0, "officer": servers},
        initially_open={"egate": 0, "officer": servers},
        service_s={"egate": {"mean": 20, "cv": 1.0}, "officer": {"mean": 90, "cv": 1.0}},
        egate_share=0.0,
        egate_fallback_share=0.0,
    )
    return parse_scenario(data)


def poisson_population(
    rate_per_min: float, minutes: float, mean_min: float, seed: int
) -> Population:
    rng = np.random.default_rng(seed)
    n = int(rate_per_min * minutes * 1.2) + 100
    times = np.cumsum(rng.exponential(1 / rate_per_min, n))
    times = times[times < minutes]
    k = times.shape[0]
    return Population(
        arrival=times,
        egate=np.zeros(k, dtype=bool),
        fallback=np.zeros(k, dtype=bool),
        egate_service=np.zeros(k),
        officer_service=rng.exponential(mean_min, k),  # cv 1: M/M/c
    )


def test_steady_mmc_matches_erlang_c() -> None:
    # c = 3 desks, 90 s service, 1.6 arrivals a minute: A = 2.4 Erlangs, rho = 0.8.
    servers, rate, mean_min, hours = 3, 1.6, 1.5, 48.0
    load = rate * mean_min
    waits: list[float] = []
    for seed in range(4):
        scenario = mmc_scenario(servers, hours)
        pop = poisson_population(rate, hours * 60, mean_min, seed)
        result = simulate(scenario, StaticPolicy(), population=pop)
        waits += [t.wait for t in result.travellers if t.arrival > 60]  # skip the warm-up
    w = np.asarray(waits)
    n = w.shape[0]
    p_wait = float((w > 1e-9).mean())
    p_within = float((w <= 1.0).mean())
    # customers are correlated in a queue; 4 x 48 h gives a standard error around 0.01
    assert n > 15000
    assert p_wait == pytest.approx(erlang_c(servers, load), abs=0.03)
    assert p_within == pytest.approx(service_level(servers, load, 60.0, 90.0), abs=0.03)
    assert float(w.mean()) == pytest.approx(
        erlang_c(servers, load) * mean_min / (servers - load), rel=0.15
    )


class OpenThenClose:
    """Opens two officer lanes at t=0, asks to close everything at every later decision."""

    name = "test"
    relaxed = False

    def __init__(self) -> None:
        self.calls = 0

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        self.calls += 1
        cmds = (
            (LaneCommand("officer", "open", 2, "test"),)
            if self.calls == 1
            else (LaneCommand("officer", "close", 6, "test"),)
        )
        return ControlDecision(snapshot.now, cmds, (), 1.0, 1.0, 1.0, ())


def test_open_delay_and_min_open_are_respected(small: Scenario) -> None:
    data = small_data(initially_open={"egate": 4, "officer": 0}, egate_share=0.0)
    data["arrivals"][0]["at"] = "2026-04-10T08:00:00+08:00"
    scenario = parse_scenario(data)
    result = simulate(scenario, OpenThenClose())
    served_at = [t.done_at for t in result.travellers if t.done_at is not None]
    starts = [t.arrival + t.wait for t in result.travellers]
    assert min(starts) >= 5.0 - 1e-9  # nobody before the lanes are ready
    assert served_at
    # two lanes: ordered at 0, ready at 5, may close at 35 (asked every 5 minutes)
    lane_minutes = result.lane_minutes["officer"]
    assert lane_minutes >= 2 * 35 - 1e-6
    assert lane_minutes <= 2 * 35 + 2 * 10  # closed at 35 or on finishing a traveller


def test_static_lane_hours_and_same_travellers_for_every_policy(small: Scenario) -> None:
    pop = draw_population(small)
    a = simulate(small, StaticPolicy(), population=pop)
    b = simulate(small, StaticPolicy(), population=draw_population(small))
    assert [t.wait for t in a.travellers] == [t.wait for t in b.travellers]
    assert a.end_min >= small.hours * 60
    assert a.lane_minutes["officer"] == pytest.approx(1 * a.end_min)
    assert a.lane_minutes["egate"] == pytest.approx(4 * a.end_min)
    assert all(t.done_at is not None for t in a.travellers)
    other_seed = draw_population(small, seed=small.seed + 1)
    assert other_seed.arrival.shape != pop.arrival.shape or not np.array_equal(
        other_seed.arrival, pop.arrival
    )


def test_fallbacks_queue_twice_and_referrals_are_slower(small: Scenario) -> None:
    data = small_data(egate_share=1.0, egate_fallback_share=0.3)
    scenario = parse_scenario(data)
    pop = draw_population(scenario)
    assert pop.egate.all()
    assert 0.15 < pop.fallback.mean() < 0.45
    assert pop.officer_service[pop.fallback].mean() * 60 == pytest.approx(240, rel=0.15)
    result = simulate(scenario, StaticPolicy(), population=pop)
    fallbacks = [t for t in result.travellers if t.fallback]
    assert all(t.wait >= t.egate_wait for t in fallbacks)
    assert any(t.wait > t.egate_wait for t in fallbacks)


def test_cut_off_travellers_count_their_wait(small: Scenario) -> None:
    data = small_data(initially_open={"egate": 0, "officer": 0})
    scenario = parse_scenario(data)
    result = simulate(scenario, StaticPolicy(), max_drain_min=30)
    assert all(t.done_at is None for t in result.travellers)
    assert min(t.wait for t in result.travellers) > 0
    assert result.end_min == pytest.approx(small.hours * 60 + 30)


def test_snapshot_start_is_the_scenario_start(small: Scenario) -> None:
    seen: list[datetime] = []

    class Spy(StaticPolicy):
        def decide(self, snapshot: HallSnapshot) -> ControlDecision:
            seen.append(snapshot.now)
            return super().decide(snapshot)

    simulate(small, Spy())
    assert seen[0] == small.start
    assert (seen[1] - seen[0]).total_seconds() == 300
