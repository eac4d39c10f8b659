"""The fluid forecaster and the lane planner on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from queue_monitor.planning.forecast import (
    QueueState,
    backlog_weights,
    fluid_served,
    project_hall,
    project_queue,
    virtual_waits,
    with_backlog,
)
from queue_monitor.planning.lane_plan import plan_lanes


def test_known_queue_and_lanes_give_known_waits() -> None:
    # 10 waiting (oldest 1 min), 2 lanes at 1 traveller/min each, nobody else arrives:
    # the middle traveller leaves 2.5 min from now and had waited 0.5 min: 3.0 min.
    proj = project_queue(np.zeros(10), QueueState(10, 1.0), np.full(10, 2.0), 1.0, pre=1)
    assert proj.served[:7].tolist() == [0, 2, 2, 2, 2, 2, 0]
    assert proj.waits_min[0] == pytest.approx(3.0)
    assert proj.queue[:6].tolist() == [10, 8, 6, 4, 2, 0]


def test_overload_waits_grow_linearly() -> None:
    # 3 arrive per minute, 2 are served: arrivals of minute m leave at 1.5 m + 0.75,
    # so they wait 0.5 m + 0.25.
    arrivals = np.full(10, 3.0)
    served = fluid_served(arrivals, np.full(10, 2.0))
    waits = virtual_waits(arrivals, served, 2.0)
    assert waits == pytest.approx(0.5 * np.arange(10) + 0.25)
    # enough capacity: nobody waits
    assert virtual_waits(arrivals, fluid_served(arrivals, np.full(10, 4.0)), 4.0) == pytest.approx(
        np.zeros(10)
    )


def test_no_capacity_means_infinite_wait() -> None:
    waits = virtual_waits(np.array([1.0, 0.0]), np.zeros(2), 0.0)
    assert waits[0] == np.inf


def test_hall_share_and_fallbacks() -> None:
    # e-gates 10/min arrive, plenty of gates; 20% fall back to officers who have no lane.
    proj = project_hall(
        np.full(30, 10.0),
        np.zeros(30),
        0.2,
        QueueState(),
        QueueState(),
        np.full(30, 10.0),
        np.zeros(30),
        3.0,
        1.0,
    )
    assert proj.officer.arrivals[proj.officer.pre :].sum() == pytest.approx(60.0)
    # everyone counts once: 300 travellers of which 60 also queue for an officer, who never
    # comes: 240 within target, 60 not
    assert proj.share_within(25, 0, 30) == pytest.approx(240 / 300)
    assert proj.first_breach(25) == 25


def test_plan_serves_by_the_deadline_without_idle_lanes() -> None:
    # 60 travellers arrive in minute 20; one lane serves 1/min; deadline 15 min: they must be
    # gone by the end of minute 35. No lane before they come, none idle after, and the
    # first minute opens the 4 lanes the 60 keep busy for 15 minutes (60 / 15).
    arrivals = np.zeros(60)
    arrivals[20] = 60.0
    zeros = np.zeros(60, dtype=np.int64)
    plan = plan_lanes(arrivals, QueueState(), zeros, zeros, 10, 1.0, 15, 5, 0)
    assert plan.feasible
    assert plan.lanes[:20].tolist() == [0] * 20
    assert plan.lanes[20] == 4
    served = fluid_served(arrivals, plan.lanes.astype(float))
    assert served[:36].sum() == pytest.approx(60.0)
    assert plan.lanes.sum() <= 60 + 10  # lane-minutes: the work plus rounding
    assert plan.lanes[36:].sum() == 0


def test_plan_respects_delay_and_reports_shortfall() -> None:
    # 30 already waiting for 20 minutes, deadline 22: 2 minutes left; nothing can be
    # ready before the 5-minute delay, so the plan is short from minute 0.
    zeros = np.zeros(30, dtype=np.int64)
    plan = plan_lanes(np.zeros(30), QueueState(30, 20.0), zeros, zeros, 8, 1.0, 22, 5, 30)
    assert not plan.feasible
    assert plan.first_short == 0
    assert plan.lanes[:5].tolist() == [0] * 5
    assert plan.lanes[5] > 0


def test_plan_keeps_locked_lanes_and_its_own_for_min_open() -> None:
    arrivals = np.zeros(90)
    arrivals[10:20] = 3.0
    committed = np.full(90, 2, dtype=np.int64)
    locked = np.zeros(90, dtype=np.int64)
    locked[:25] = 2
    plan = plan_lanes(arrivals, QueueState(), committed, locked, 10, 1.0, 10, 5, 30)
    assert plan.lanes[:25].min() >= 2
    opened = np.nonzero(np.diff(plan.lanes) > 0)[0]
    for i in opened:
        if i + 1 >= 5:
            assert plan.lanes[i + 1 : i + 31].min() >= plan.lanes[i + 1] - plan.lanes[i] + 0


def test_backlog_follows_the_recent_arrivals() -> None:
    # 30 waiting, the oldest for 10 minutes; all of them came in 6-10 minutes ago (a ship's
    # tail): they are placed there, not spread evenly over the 10 minutes.
    recent = (0.0,) * 50 + (8.0, 8.0, 8.0, 8.0, 8.0) + (0.0,) * 5
    old = with_backlog(np.zeros(3), QueueState(30, 10.0, recent), pre=10)
    assert old[:10] == pytest.approx([6, 6, 6, 6, 6, 0, 0, 0, 0, 0])
    even = with_backlog(np.zeros(3), QueueState(30, 10.0), pre=10)
    assert even[:10] == pytest.approx([3.0] * 10)
    assert backlog_weights((0.0, 0.0), 4) == pytest.approx([0.25] * 4)  # no arrivals: evenly
    assert backlog_weights((2.0, 6.0), 4) == pytest.approx([0.25, 0.25, 0.125, 0.375])  # padded
    # the old backlog is due sooner: the plan needs more lanes now
    zeros = np.zeros(30, dtype=np.int64)
    urgent = plan_lanes(np.zeros(30), QueueState(30, 10.0, recent), zeros, zeros, 20, 1.0, 12, 0, 0)
    relaxed = plan_lanes(np.zeros(30), QueueState(30, 10.0), zeros, zeros, 20, 1.0, 12, 0, 0)
    assert int(urgent.lanes[:3].sum()) > int(relaxed.lanes[:3].sum())
