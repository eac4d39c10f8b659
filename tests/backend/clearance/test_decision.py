"""The foundation's decision rules, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backend.clearance.decision import CITIZEN_SCHEME, decide
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode
from tests.backend.conftest import clearance_body

NOW = datetime(2025, 7, 1, 2, 31, tzinfo=UTC)


def request(**kw: Any) -> ClearanceRequest:
    return ClearanceRequest.model_validate(clearance_body(**kw))


def test_citizen_with_all_checks_passed_is_admitted() -> None:
    decision = decide(request(), NOW)
    assert decision.outcome is Outcome.ADMIT
    assert decision.reasons == []
    assert decision.scheme == CITIZEN_SCHEME == "citizen"
    assert decision.permitted_until is None


def test_foreigner_without_a_scheme_is_referred() -> None:
    decision = decide(request(document={"nationality": "UTO", "issuing_state": "UTO"}), NOW)
    assert decision == (Outcome.REFER, [ReasonCode.NO_SCHEME], None, None)


@pytest.mark.parametrize(
    ("document", "face", "reason"),
    [
        ({"check_digits_valid": False}, {}, ReasonCode.DOCUMENT_INVALID),
        ({"chip_authenticated": False}, {}, ReasonCode.DOCUMENT_INVALID),
        ({"expiry_date": "2025-06-30"}, {}, ReasonCode.DOCUMENT_EXPIRED),
        ({}, {"matched": False}, ReasonCode.FACE_MISMATCH),
        ({}, {"liveness": "failed"}, ReasonCode.LIVENESS_FAILED),
    ],
)
def test_each_reason_refers_a_citizen(
    document: dict[str, Any], face: dict[str, Any], reason: ReasonCode
) -> None:
    decision = decide(request(document=document, face=face), NOW)
    assert decision == (Outcome.REFER, [reason], None, None)


def test_all_reasons_are_collected_once_each() -> None:
    decision = decide(
        request(
            document={
                "check_digits_valid": False,
                "chip_authenticated": False,
                "expiry_date": "2020-01-01",
                "nationality": "UTO",
            },
            face={"matched": False, "liveness": "failed"},
        ),
        NOW,
    )
    assert decision.outcome is Outcome.REFER
    assert decision.reasons == [
        ReasonCode.DOCUMENT_INVALID,
        ReasonCode.DOCUMENT_EXPIRED,
        ReasonCode.FACE_MISMATCH,
        ReasonCode.LIVENESS_FAILED,
    ]  # NO_SCHEME only when nothing else is wrong


def test_no_chip_read_is_not_by_itself_a_reason() -> None:
    assert decide(request(document={"chip_authenticated": None}), NOW).outcome is Outcome.ADMIT


def test_expiry_is_judged_on_the_arrival_date_in_china_standard_time() -> None:
    # 17:00 UTC on 30 June is 01:00 on 1 July in Beijing: a passport expiring on 30 June is
    # expired although the UTC date is still 30 June.
    late = {"arrival_time": "2025-06-30T17:00:00+00:00"}
    expired = decide(request(document={"expiry_date": "2025-06-30"}, **late), NOW)
    assert expired.reasons == [ReasonCode.DOCUMENT_EXPIRED]
    # 15:00 UTC is 23:00 on 30 June in Beijing: still valid on its last day.
    early = {"arrival_time": "2025-06-30T15:00:00+00:00"}
    valid = decide(request(document={"expiry_date": "2025-06-30"}, **early), NOW)
    assert valid.outcome is Outcome.ADMIT
