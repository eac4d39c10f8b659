"""Onward-journey evidence: boarding passes (IATA BCBP), cruise cards, airports and flights.

What the clearance service uses: :func:`assess_journey` / :func:`journey_facts` (transit facts
for the policy engine from a request's ``journey`` list) and :func:`cruise_card`.
"""

from backend.journey.airports import Airport, UnknownAirportError, airport, country_of
from backend.journey.bcbp import BCBPError, BoardingPass, Leg, flight_date, parse_bcbp
from backend.journey.cruise_card import CruiseCard, CruiseCardError, parse_cruise_card
from backend.journey.evidence import (
    JourneyAssessment,
    JourneyEvidenceError,
    MissingEvidence,
    assess_journey,
    cruise_card,
    journey_facts,
    parse_evidence,
)
from backend.journey.flights import (
    FlightRegistry,
    ScheduledFlight,
    TimetableError,
    default_registry,
    load_registry,
)

__all__ = [
    "Airport",
    "BCBPError",
    "BoardingPass",
    "CruiseCard",
    "CruiseCardError",
    "FlightRegistry",
    "JourneyAssessment",
    "JourneyEvidenceError",
    "Leg",
    "MissingEvidence",
    "ScheduledFlight",
    "TimetableError",
    "UnknownAirportError",
    "airport",
    "assess_journey",
    "country_of",
    "cruise_card",
    "default_registry",
    "flight_date",
    "journey_facts",
    "load_registry",
    "parse_bcbp",
    "parse_cruise_card",
    "parse_evidence",
]
