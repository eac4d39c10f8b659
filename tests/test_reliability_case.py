"""The reliability-case recorder that docs/reliability.md is built from."""

from __future__ import annotations

import pytest

from tests.conftest import ReliabilityCase


@pytest.mark.reliability("faults")
def test_case_records_area_injection_assertion_and_figures(
    reliability_case: ReliabilityCase, request: pytest.FixtureRequest
) -> None:
    reliability_case.injects("nothing (checks the recorder)")
    reliability_case.asserts("the properties are recorded in order")
    reliability_case.measured("answer", 42, "ms")
    assert request.node.user_properties == [
        ("area", "faults"),
        ("injects", "nothing (checks the recorder)"),
        ("asserts", "the properties are recorded in order"),
        ("measured:answer", "42 ms"),
    ]
