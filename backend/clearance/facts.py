"""Gathering a traveller's case for the policy engine from the request and the registries.

The kiosk reports what it read; the facts the policy needs come from the backend's own sources:
the visa and records registries, the flight registry (through the boarding passes) and the cruise
manifests (the cruise card only narrows the search). Blocking: call it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.cruise.service import CruiseService
from backend.journey import JourneyEvidenceError, assess_journey, cruise_card
from backend.journey.flights import FlightRegistry
from backend.policy.case import CruiseFacts, JourneyFacts, PolicyCase, Port, TravellerFacts
from backend.policy.clock import cst_date
from backend.registries.service import Registries
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Hall, ReasonCode

PORT_OF_HALL: dict[Hall, Port] = {Hall.AIRPORT: "TSN-AIRPORT", Hall.CRUISE: "TSN-CRUISE"}
PORT_AIRPORT = "TSN"


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the facts come from (all loaded once, in the app's lifespan)."""

    registries: Registries
    cruise: CruiseService
    flights: FlightRegistry


@dataclass(slots=True)
class GatheredFacts:
    case: PolicyCase
    problems: list[ReasonCode] = field(default_factory=list)
    """Reasons found while gathering (an invalid barcode, a card of someone else)."""
    notes: dict[str, Any] = field(default_factory=dict)
    """For the officer: journey findings, missing passes, barcode problems (no identity data)."""


def gather_facts(request: ClearanceRequest, sources: Sources) -> GatheredFacts:
    doc = request.document
    arrival = request.arrival_time
    arrival_day = cst_date(arrival)
    problems: list[ReasonCode] = []
    notes: dict[str, Any] = {}

    journey: JourneyFacts | None = None
    cruise: CruiseFacts | None = None
    card = None
    try:
        assessment = assess_journey(
            request.journey, arrival, sources.flights, port_airport=PORT_AIRPORT
        )
        card = cruise_card(request.journey)
    except JourneyEvidenceError as exc:
        problems.append(ReasonCode.JOURNEY_INVALID)
        notes["journey_problems"] = exc.problems
    else:
        journey = assessment.facts
        if assessment.missing:
            notes["journey_missing"] = [str(m) for m in assessment.missing]
        if assessment.findings:
            notes["journey_findings"] = list(assessment.findings)

    if card is not None and card.document_number != doc.document_number.rstrip("<"):
        problems.append(ReasonCode.JOURNEY_INVALID)
        notes.setdefault("journey_problems", []).append(
            "the cruise card names another document than the passport"
        )
    if request.hall is Hall.CRUISE and not problems:
        cruise = sources.cruise.find_cruise_passenger(
            doc.document_number,
            doc.nationality,
            arrival,
            ship_code=card.ship if card else None,
            voyage=card.voyage if card else None,
        )
        if cruise is None and card is not None:
            problems.append(ReasonCode.CRUISE_NOT_ON_MANIFEST)

    case = PolicyCase(
        port=PORT_OF_HALL[request.hall],
        arrival=arrival,
        traveller=TravellerFacts(
            nationality=doc.nationality,
            document_type=doc.document_type.rstrip("<"),
            document_expiry=doc.expiry_date,
            chinese_visa=sources.registries.find_visa(
                doc.document_number, doc.nationality, arrival_day
            ),
            record=sources.registries.record_flags(
                doc.document_number, doc.nationality, arrival_day
            ),
        ),
        journey=journey,
        cruise=cruise,
    )
    return GatheredFacts(case=case, problems=problems, notes=notes)
