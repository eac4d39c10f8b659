"""All policies run on a small scenario; the clairvoyant bound and the Erlang baseline."""

from __future__ import annotations

import pytest

from queue_monitor.planning.policies import (
    POLICY_NAMES,
    clairvoyant_schedule,
    make_policy,
)
from queue_monitor.planning.report import METRIC_KEYS, metrics
from queue_monitor.planning.runner import policy_names, run_policies
from queue_monitor.planning.scenario import Scenario, parse_scenario
from queue_monitor.planning.simulator import draw_population

from .conftest import small_data


def test_all_policies_run_side_by_side(small: Scenario) -> None:
    results = run_policies(small, policy_names("all"))
    rows = {r.policy: metrics(r) for r in results}
    static = next(r for r in results if r.policy == "static")
    assert tuple(rows) == POLICY_NAMES
    passengers = {row["passengers"] for row in rows.values()}
    assert len(passengers) == 1  # same travellers for every policy
    for row in rows.values():
        assert tuple(row) == METRIC_KEYS
        assert 0.0 <= row["share_within_25min"] <= 1.0
    assert rows["bordergate"]["share_within_25min"] >= 0.95
    assert rows["clairvoyant"]["share_within_25min"] >= 0.95
    # the bound: no more officer lane-hours than any policy that meets the target
    for name in ("bordergate", "erlang"):
        if rows[name]["share_within_25min"] >= 0.95:
            assert rows["clairvoyant"]["officer_lane_hours"] <= rows[name]["officer_lane_hours"]
    assert rows["static"]["officer_lane_hours"] == pytest.approx(
        small.initially_open.officer * static.end_min / 60, abs=0.01
    )


def test_unknown_policy_is_refused(small: Scenario) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        policy_names("random")
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("random", small, draw_population(small))


def test_clairvoyant_uses_no_lanes_without_travellers_and_all_when_swamped() -> None:
    quiet = parse_scenario(small_data(arrivals=[]))
    assert set(clairvoyant_schedule(quiet, draw_population(quiet))) == {0}
    data = small_data(lanes={"egate": 4, "officer": 2}, initially_open={"egate": 4, "officer": 0})
    data["arrivals"][0]["passengers"] = 2000
    swamped = parse_scenario(data)
    schedule = clairvoyant_schedule(swamped, draw_population(swamped))
    assert max(schedule) == 2
    assert schedule[2] == 2  # the flight's interval (08:20-08:35)


def test_erlang_staffs_the_forecast_ahead_of_the_interval(small: Scenario) -> None:
    result = run_policies(small, ("erlang",))[0]
    lanes = result.lanes_open["officer"]
    # the flight lands at 20 min; the lanes for 15-30 are ordered at 10 (delay 5 -> by 15)
    assert max(lanes[10:16]) > 1
