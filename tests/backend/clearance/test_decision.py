"""Combining the kiosk's checks, the gathered facts and the policy engine into one decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from backend.clearance.decision import decide
from backend.clearance.facts import GatheredFacts
from backend.policy.case import JourneyFacts, PolicyCase, TravellerFacts
from backend.policy.engine import PolicyEngine
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode
from tests.backend.conftest import clearance_body

ONWARD = JourneyFacts(
    arrived_from="JPN",
    onward_to="KOR",
    onward_departure=datetime.fromisoformat("2025-07-03T09:00:00+08:00"),
    onward_confirmed=True,
)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def request(**kw: Any) -> ClearanceRequest:
    return ClearanceRequest.model_validate(clearance_body(**kw))


def facts(req: ClearanceRequest, journey: JourneyFacts | None = None, **kw: Any) -> GatheredFacts:
    doc = req.document
    case = PolicyCase(
        port="TSN-AIRPORT",
        arrival=req.arrival_time,
        traveller=TravellerFacts(
            nationality=doc.nationality,
            document_type=doc.document_type,
            document_expiry=doc.expiry_date,
        ),
        journey=journey,
    )
    return GatheredFacts(case=case, **kw)


def german(**document: Any) -> dict[str, Any]:
    return {"nationality": "D", "issuing_state": "D", **document}


def test_citizen_with_all_checks_passed_is_admitted(engine: PolicyEngine) -> None:
    req = request()
    decision = decide(req, facts(req), engine)
    assert decision.outcome is Outcome.ADMIT
    assert decision.reasons == []
    assert decision.scheme == "citizen"
    assert decision.permitted_until is None


def test_transit_traveller_is_admitted_until_the_end_of_the_stay(engine: PolicyEngine) -> None:
    req = request(document=german())  # arrives 2025-07-01T10:30+08:00: 240 h in force
    decision = decide(req, facts(req, ONWARD), engine)
    assert decision.outcome is Outcome.ADMIT
    assert decision.scheme == "transit-240h"
    assert decision.permitted_until == datetime.fromisoformat("2025-07-12T00:00:00+08:00")
    assert decision.explanation["policy"]["decision"] == "admit"
    assert all(rule["passed"] for rule in decision.explanation["rules"])


@pytest.mark.parametrize(
    ("document", "face", "reason"),
    [
        ({"check_digits_valid": False}, {}, ReasonCode.DOCUMENT_INVALID),
        ({"chip_authenticated": False}, {}, ReasonCode.DOCUMENT_INVALID),
        ({}, {"matched": False}, ReasonCode.FACE_MISMATCH),
        ({}, {"liveness": "failed"}, ReasonCode.LIVENESS_FAILED),
    ],
)
def test_a_failed_kiosk_check_refers_whatever_the_policy_says(
    engine: PolicyEngine, document: dict[str, Any], face: dict[str, Any], reason: ReasonCode
) -> None:
    for req, journey in ((request(document=document, face=face), None),
                         (request(document=german(**document), face=face), ONWARD)):  # fmt: skip
        decision = decide(req, facts(req, journey), engine)
        assert decision.outcome is Outcome.REFER
        assert decision.reasons == [reason]
        assert decision.permitted_until is None
        assert decision.explanation["policy"]["decision"] == "admit"  # the policy alone would


def test_kiosk_checks_gathering_problems_and_policy_reasons_are_all_given_once(
    engine: PolicyEngine,
) -> None:
    req = request(
        document=german(check_digits_valid=False, chip_authenticated=False),
        face={"matched": False},
    )
    gathered = facts(req, None, problems=[ReasonCode.JOURNEY_INVALID])
    decision = decide(req, gathered, engine)
    assert decision.outcome is Outcome.REFER
    assert decision.reasons == [
        ReasonCode.DOCUMENT_INVALID,
        ReasonCode.FACE_MISMATCH,
        ReasonCode.JOURNEY_INVALID,
        ReasonCode.JOURNEY_MISSING,
    ]


def test_a_gathering_problem_refers_even_when_the_policy_admits(engine: PolicyEngine) -> None:
    req = request(document=german())
    decision = decide(req, facts(req, ONWARD, problems=[ReasonCode.JOURNEY_INVALID]), engine)
    assert decision.outcome is Outcome.REFER
    assert decision.reasons == [ReasonCode.JOURNEY_INVALID]
    assert decision.scheme == "transit-240h"  # the scheme that came closest, for the officer


def test_a_chip_not_read_refers_whatever_the_policy_says(engine: PolicyEngine) -> None:
    req = request(document={"chip_authenticated": None})
    decision = decide(req, facts(req), engine)
    assert decision.outcome is Outcome.REFER
    assert decision.reasons == [ReasonCode.CHIP_UNREADABLE]


def test_expiry_is_judged_on_the_arrival_date_in_china_standard_time(
    engine: PolicyEngine,
) -> None:
    # 17:00 UTC on 30 June is 01:00 on 1 July in Beijing: a passport expiring on 30 June is
    # expired although the UTC date is still 30 June.
    late = request(document={"expiry_date": "2025-06-30"}, arrival_time="2025-06-30T17:00:00Z")
    assert decide(late, facts(late), engine).reasons == [ReasonCode.DOCUMENT_EXPIRED]
    # 15:00 UTC is 23:00 on 30 June in Beijing: still valid on its last day.
    early = request(document={"expiry_date": "2025-06-30"}, arrival_time="2025-06-30T15:00:00Z")
    assert decide(early, facts(early), engine).outcome is Outcome.ADMIT
