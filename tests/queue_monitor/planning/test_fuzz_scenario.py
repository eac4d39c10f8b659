"""Hostile scenario files: ``load_scenario`` and ``parse_scenario`` answer a Scenario or a
``ScenarioError`` naming the problem, never another exception."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_monitor.planning.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from tests.conftest import ReliabilityCase
from tests.fuzzing import bounded, json_values

EXAMPLES = 300
FILE_EXAMPLES = 120
BASE: dict[str, Any] = json.loads(
    next(p for p in shipped_scenarios() if p.suffix == ".json").read_text()
)

pytestmark = pytest.mark.reliability("hostile")


instants = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "9999-12-31T23:00:00+00:00",
            "9999-12-31T20:00:00-14:00",
            "0001-01-01T00:00:00+14:00",
            "2026-04-10T06:00:00",  # naive
            "2026-02-30T06:00:00+08:00",
        ]
    ),
)
FIELDS = sorted(BASE)


def _replace(base: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(base))
    for key, value in changes:
        if key == "arrivals.at" and data.get("arrivals"):
            data["arrivals"][0]["at"] = value
        elif key.startswith("-"):
            data.pop(key[1:], None)
        else:
            data[key] = value
    return data


changed_fields = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(FIELDS), json_values),
        st.tuples(st.sampled_from(["start", "arrivals.at"]), instants),
        st.tuples(st.sampled_from(["hours", "open_delay_min", "min_open_min"]), st.floats()),
        st.tuples(st.sampled_from([f"-{f}" for f in FIELDS]), st.none()),
        st.tuples(st.text(max_size=8), json_values),
    ),
    min_size=1,
    max_size=4,
).map(lambda changes: _replace(BASE, changes))


def _answer(call: Callable[[], Scenario]) -> str:
    try:
        call()
    except ScenarioError as exc:
        reason = str(exc)
    else:
        return "valid"
    assert reason, "a refusal names the problem"
    return "refused"


def test_scenario_data_is_a_scenario_or_a_scenario_error(
    reliability_case: ReliabilityCase,
) -> None:
    reliability_case.injects(
        f"{EXAMPLES} scenario objects (hypothesis): any JSON value, and the shipped scenario with "
        "1-4 fields replaced by any JSON value, removed, or set to instants at the calendar's "
        "ends (years 1 and 9999), naive or impossible, or to any float (NaN, infinities)"
    )
    seen = {"valid": 0, "refused": 0}

    @bounded(EXAMPLES)
    @given(data=st.one_of(json_values, changed_fields))
    def fuzz(data: Any) -> None:
        seen[_answer(lambda: parse_scenario(data))] += 1

    fuzz()
    reliability_case.measured("scenarios valid", seen["valid"])
    reliability_case.measured("scenarios refused with ScenarioError", seen["refused"])
    reliability_case.asserts(
        "parse_scenario returns a Scenario or raises ScenarioError naming the field; nothing else"
    )
    assert seen["valid"]
    assert seen["refused"]


def _nested(depth: int, opener: str, closer: str) -> str:
    return opener * depth + closer * depth


file_texts = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    changed_fields.map(lambda d: json.dumps(d).encode()),
    st.integers(2, 6).map(  # aliases that expand geometrically (a small "billion laughs")
        lambda levels: (
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, levels))
            + f"arrivals: *a{levels - 1}\n"
        ).encode()
    ),
)


def test_scenario_files_are_a_scenario_or_a_scenario_error(
    tmp_path: Path, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"{FILE_EXAMPLES} scenario files (hypothesis), each as .json and as .yaml: random bytes, "
        "random text, any JSON value, mutated scenarios, "
        "YAML aliases that expand geometrically (up to 10^6 nodes); and JSON/YAML nested 5,000 "
        "deep (past the interpreter's recursion limit)"
    )
    seen = {"valid": 0, "refused": 0}

    @bounded(FILE_EXAMPLES)
    @given(content=file_texts, suffix=st.sampled_from([".json", ".yaml"]))
    def fuzz(content: bytes, suffix: str) -> None:
        path = tmp_path / f"scenario{suffix}"
        path.write_bytes(content)
        seen[_answer(lambda: load_scenario(path))] += 1

    fuzz()
    # Nesting past the interpreter's recursion limit: slow to hit, so fixed cases.
    deep = {
        "json": _nested(5_000, "[", "]"),
        "json-object": _nested(5_000, '{"a":', "}").replace("}", "1}", 1),
        "yaml-list": "- " * 5_000 + "x",
        "yaml-flow": _nested(5_000, "[", "]"),
    }
    for name, text in deep.items():
        path = tmp_path / f"deep-{name}.{name.split('-')[0]}"
        path.write_text(text)
        with pytest.raises(ScenarioError, match="nested too deeply"):
            load_scenario(path)
    reliability_case.measured("files valid", seen["valid"])
    reliability_case.measured("files refused with ScenarioError", seen["refused"])
    reliability_case.asserts(
        "load_scenario returns a Scenario or raises ScenarioError saying what is wrong with the "
        "file; nothing else (no RecursionError, OverflowError or decode error escapes)"
    )
    assert seen["refused"]
