"""From the barcodes a traveller presented to what the policy engine needs.

The clearance service calls, for a request ``req``::

    assessment = assess_journey(req.journey, req.arrival_time)   # airport: transit facts
    assessment.facts      # JourneyFacts, or None when a pass is missing
    assessment.missing    # (MissingEvidence.INBOUND / .ONWARD): refer with a specific reason
    card = cruise_card(req.journey)                                # cruise hall

Both raise :class:`JourneyEvidenceError` when a barcode is not valid (a corrupt BCBP, a cruise
card in the wrong format, a boarding pass naming an unknown airport): every problem is listed.
Missing passes are not errors: they are reported in ``missing`` so the service can refer with a
reason that says which one.

Rules (DESIGN.md, transit): route A -> mainland China -> C with A != C; a confirmed onward
ticket with a fixed date and seat. Here:

* the inbound pass is a leg arriving at the port's airport (TSN) whose flight date (the local
  date of departure at its origin) is the arrival day or up to ``INBOUND_WINDOW_DAYS`` before;
  ``arrived_from`` is the country or region of its origin airport;
* the onward pass is the earliest leg from a mainland-China airport to an airport outside
  mainland China that leaves after the arrival; ``onward_to`` is its destination's country or
  region; ``onward_departure`` is the registry's scheduled departure, or 00:00 of the pass's
  flight date in the origin's zone when the flight is not in the registry;
* ``onward_confirmed``: the flight is in the registry on that date **and** the pass has a seat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from backend.journey.airports import UnknownAirportError, airport
from backend.journey.bcbp import BCBPError, BoardingPass, Leg, flight_date, parse_bcbp
from backend.journey.cruise_card import CruiseCard, CruiseCardError, parse_cruise_card
from backend.journey.flights import FlightRegistry, ScheduledFlight, default_registry
from backend.policy.case import JourneyFacts
from bordergate.clearance_api import JourneyEvidence

PORT_AIRPORT = "TSN"
INBOUND_WINDOW_DAYS = 2
"""An inbound flight may have left its origin up to this many local days before arrival."""


class MissingEvidence(StrEnum):
    INBOUND = "no-inbound-pass"
    """No boarding pass for a flight that brought the traveller to the port on this arrival."""
    ONWARD = "no-onward-pass"
    """No boarding pass for a flight leaving mainland China after the arrival."""


class JourneyEvidenceError(ValueError):
    """One or more presented barcodes are not valid; ``problems`` lists each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid journey evidence: " + "; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class ParsedEvidence:
    boarding_passes: tuple[BoardingPass, ...]
    cruise_cards: tuple[CruiseCard, ...]


@dataclass(frozen=True, slots=True)
class JourneyAssessment:
    facts: JourneyFacts | None
    """Set when both the inbound and the onward pass were found."""
    missing: tuple[MissingEvidence, ...]
    findings: tuple[str, ...]
    """Plain-language notes for the officer (unconfirmed flight, no seat, name mismatch...)."""
    inbound: Leg | None = None
    onward: Leg | None = None
    onward_flight: ScheduledFlight | None = None
    """The registry's flight for the onward leg, if it is scheduled."""
    passenger_names: tuple[str, ...] = ()
    """The distinct names on the boarding passes (BCBP ``SURNAME/GIVEN``, at most 20 chars)."""


def parse_evidence(evidence: Sequence[JourneyEvidence]) -> ParsedEvidence:
    """Parse every item; raises JourneyEvidenceError listing every invalid one."""
    problems: list[str] = []
    passes: list[BoardingPass] = []
    cards: list[CruiseCard] = []
    for i, item in enumerate(evidence, start=1):
        if item.kind == "boarding_pass":
            try:
                bcbp = parse_bcbp(item.payload)
            except BCBPError as exc:
                problems.append(f"item {i} (boarding pass): {exc}")
                continue
            bad = []
            for leg_no, leg in enumerate(bcbp.legs, start=1):
                for code in (leg.origin, leg.destination):
                    try:
                        airport(code)
                    except UnknownAirportError as exc:
                        bad.append(f"leg {leg_no}: {exc}")
            if bad:
                problems.append(f"item {i} (boarding pass): " + ", ".join(bad))
                continue
            passes.append(bcbp)
        else:
            try:
                cards.append(parse_cruise_card(item.payload))
            except CruiseCardError as exc:
                problems.append(f"item {i} (cruise card): {exc}")
    if problems:
        raise JourneyEvidenceError(problems)
    return ParsedEvidence(tuple(passes), tuple(cards))


def _require_aware(arrival: datetime) -> None:
    if arrival.tzinfo is None or arrival.utcoffset() is None:
        raise ValueError("arrival must be an aware datetime")


def _pick_inbound(
    legs: Sequence[Leg], port: str, arrival_day: date, findings: list[str]
) -> Leg | None:
    candidates: list[tuple[bool, date, Leg]] = []
    for leg in legs:
        if leg.destination != port:
            continue
        day = flight_date(leg.julian_date, arrival_day)
        if arrival_day - timedelta(days=INBOUND_WINDOW_DAYS) <= day <= arrival_day:
            candidates.append((not airport(leg.origin).mainland_china, day, leg))
        else:
            findings.append(
                f"boarding pass {leg.flight} {leg.origin}-{leg.destination} is dated "
                f"{day.isoformat()}, not this arrival ({arrival_day.isoformat()})"
            )
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def _pick_onward(
    legs: Sequence[Leg],
    arrival: datetime,
    arrival_day: date,
    registry: FlightRegistry,
    findings: list[str],
) -> tuple[Leg, datetime, ScheduledFlight | None] | None:
    options: list[tuple[datetime, Leg, ScheduledFlight | None]] = []
    for leg in legs:
        origin = airport(leg.origin)
        if not origin.mainland_china or airport(leg.destination).mainland_china:
            continue
        day = flight_date(leg.julian_date, arrival_day)
        scheduled = registry.find(leg.carrier, leg.flight_number, day, leg.origin, leg.destination)
        if scheduled is not None:
            departure = scheduled.departure
            after = departure > arrival
        else:
            departure = datetime.combine(day, time(0), tzinfo=origin.zone)
            after = day >= arrival_day
        if after:
            options.append((departure, leg, scheduled))
        else:
            findings.append(
                f"boarding pass {leg.flight} {leg.origin}-{leg.destination} dated "
                f"{day.isoformat()} left before this arrival"
            )
    if not options:
        return None
    departure, leg, scheduled = min(options, key=lambda o: o[0])
    return leg, departure, scheduled


def assess_journey(
    evidence: Sequence[JourneyEvidence],
    arrival: datetime,
    registry: FlightRegistry | None = None,
    *,
    port_airport: str = PORT_AIRPORT,
) -> JourneyAssessment:
    """The transit journey facts from the presented boarding passes (cruise cards ignored).

    Raises JourneyEvidenceError for invalid barcodes and ValueError for a naive ``arrival``;
    missing passes are reported in the result's ``missing``.
    """
    _require_aware(arrival)
    registry = registry if registry is not None else default_registry()
    parsed = parse_evidence(evidence)
    port = airport(port_airport)
    arrival_day = arrival.astimezone(port.zone).date()
    legs = [leg for bcbp in parsed.boarding_passes for leg in bcbp.legs]
    bad_dates = []
    for leg in legs:
        try:
            flight_date(leg.julian_date, arrival_day)
        except ValueError as exc:
            bad_dates.append(f"boarding pass {leg.flight}: date of flight: {exc}")
    if bad_dates:
        raise JourneyEvidenceError(bad_dates)
    names = tuple(dict.fromkeys(p.passenger_name for p in parsed.boarding_passes))
    findings: list[str] = []
    if len(names) > 1:
        findings.append(f"the boarding passes carry {len(names)} different passenger names")

    missing: list[MissingEvidence] = []
    inbound = _pick_inbound(legs, port.iata, arrival_day, findings)
    if inbound is None:
        missing.append(MissingEvidence.INBOUND)
    onward = _pick_onward(legs, arrival, arrival_day, registry, findings)
    if onward is None:
        missing.append(MissingEvidence.ONWARD)
    if inbound is None or onward is None:
        return JourneyAssessment(
            facts=None,
            missing=tuple(missing),
            findings=tuple(findings),
            inbound=inbound,
            onward=onward[0] if onward else None,
            onward_flight=onward[2] if onward else None,
            passenger_names=names,
        )

    leg, departure, scheduled = onward
    if scheduled is None:
        findings.append(
            f"onward flight {leg.flight} {leg.origin}-{leg.destination} on "
            f"{departure.date().isoformat()} is not in the flight registry"
        )
    if not leg.seat_assigned:
        findings.append(f"onward boarding pass {leg.flight} has no seat assigned")
    facts = JourneyFacts(
        arrived_from=airport(inbound.origin).country,
        onward_to=airport(leg.destination).country,
        onward_departure=departure,
        onward_confirmed=scheduled is not None and leg.seat_assigned,
    )
    return JourneyAssessment(
        facts=facts,
        missing=(),
        findings=tuple(findings),
        inbound=inbound,
        onward=leg,
        onward_flight=scheduled,
        passenger_names=names,
    )


def journey_facts(
    evidence: Sequence[JourneyEvidence],
    arrival: datetime,
    registry: FlightRegistry | None = None,
    *,
    port_airport: str = PORT_AIRPORT,
) -> JourneyFacts | None:
    """Shorthand for ``assess_journey(...).facts``."""
    return assess_journey(evidence, arrival, registry, port_airport=port_airport).facts


def cruise_card(evidence: Sequence[JourneyEvidence]) -> CruiseCard | None:
    """The cruise card presented, if any; raises JourneyEvidenceError if invalid or ambiguous.

    Every item is checked (a corrupt boarding pass beside a card is still reported).
    """
    cards = parse_evidence(evidence).cruise_cards
    distinct = list(dict.fromkeys(cards))
    if len(distinct) > 1:
        raise JourneyEvidenceError([f"{len(distinct)} different cruise cards presented"])
    return distinct[0] if distinct else None
