"""Scenario files: shipped ones load; bad ones are rejected naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from queue_monitor.planning.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)

from .conftest import small_data

REQUIRED_SHIPPED = {
    "airport-normal",
    "airport-widebody-bank",
    "cruise-4000",
    "two-ships",
    "airport-underforecast",
}


def test_shipped_scenarios_load() -> None:
    paths = shipped_scenarios()
    assert {p.stem for p in paths} >= REQUIRED_SHIPPED
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        assert scenario.arrivals


def test_shipped_by_name_and_the_issue_example() -> None:
    cruise = load_scenario("cruise-4000")
    assert cruise.hall == "cruise"
    assert cruise.lanes.officer == 20
    assert cruise.arrivals[0].passengers == 4000
    assert cruise.actual_factor == 1.0
    assert load_scenario("airport-underforecast").actual_factor == pytest.approx(1.2)


def test_yaml_and_json_give_the_same(tmp_path: Path) -> None:
    import yaml

    data = small_data()
    (tmp_path / "s.json").write_text(json.dumps(data))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    assert load_scenario(tmp_path / "s.json") == load_scenario(tmp_path / "s.yaml")


def _error(data: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return str(info.value)


def test_missing_field_is_named() -> None:
    data = small_data()
    del data["open_delay_min"]
    assert "open_delay_min: missing field" in _error(data)
    data = small_data()
    del data["arrivals"][0]["passengers"]
    assert "arrivals.0.passengers: missing field" in _error(data)


def test_unknown_field_is_named() -> None:
    assert "colour: unknown field" in _error(small_data(colour="red"))
    data = small_data()
    data["lanes"]["bus"] = 2
    assert "lanes.bus: unknown field" in _error(data)


@pytest.mark.parametrize("bad", ["yesterday", "2026-04-10T08:00:00", "2026-13-40T08:00:00+08:00"])
def test_bad_dates_are_named(bad: str) -> None:
    assert _error(small_data(start=bad)).startswith("scenario: start:")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("lanes", "officer"), -1),
        (("initially_open", "egate"), -2),
        (("arrivals", 0, "passengers"), -100),
        (("hours",), 0),
        (("egate_share",), 1.5),
    ],
)
def test_negative_or_out_of_range_is_named(path: tuple[Any, ...], value: Any) -> None:
    data = small_data()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert ".".join(str(p) for p in path) + ":" in _error(data)


def test_inconsistent_fields_are_named() -> None:
    data = small_data(initially_open={"egate": 4, "officer": 9})
    assert "initially_open.officer (9) exceeds lanes.officer (6)" in _error(data)
    data = small_data()
    data["arrivals"][0]["at"] = "2026-04-10T12:00:00+08:00"
    assert "arrivals.0.at" in _error(data)


def test_not_an_object_and_unreadable(tmp_path: Path) -> None:
    assert "expected an object" in _error([1, 2])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid json"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no scenario file"):
        load_scenario("no-such-scenario")
