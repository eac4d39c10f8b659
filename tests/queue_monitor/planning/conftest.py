"""Small scenarios for the planning tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from queue_monitor.planning.scenario import Scenario, parse_scenario

SMALL: dict[str, Any] = {
    "name": "small",
    "hall": "airport",
    "start": "2026-04-10T08:00:00+08:00",
    "hours": 2,
    "seed": 3,
    "lanes": {"egate": 4, "officer": 6},
    "initially_open": {"egate": 4, "officer": 1},
    "service_s": {"egate": {"mean": 20, "cv": 0.4}, "officer": {"mean": 75, "cv": 0.5}},
    "egate_share": 0.5,
    "egate_fallback_share": 0.05,
    "open_delay_min": 5,
    "min_open_min": 30,
    "forecast_error": 0.1,
    "arrivals": [
        {"at": "2026-04-10T08:20:00+08:00", "passengers": 180, "profile": "flight", "over_min": 25}
    ],
}


def small_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL)
    data.update(changes)
    return data


@pytest.fixture
def small() -> Scenario:
    return parse_scenario(small_data())
