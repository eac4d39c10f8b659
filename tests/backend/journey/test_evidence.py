"""Journey evidence -> JourneyFacts for the policy engine, and the cruise card."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Literal

import pytest

from backend.journey.bcbp import Leg
from backend.journey.cruise_card import CruiseCardError, parse_cruise_card
from backend.journey.evidence import (
    JourneyEvidenceError,
    MissingEvidence,
    assess_journey,
    cruise_card,
    journey_facts,
)
from bordergate.clearance_api import JourneyEvidence
from hardware_mocks.boarding_pass import bcbp_text

CST = timezone(timedelta(hours=8))
ARRIVAL = datetime(2025, 7, 1, 11, 20, tzinfo=CST)  # KE805 from Seoul lands 11:20 on Tue 1 Jul
NAME = "SMITH/JOHN"
CARD = "BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214"


def leg(
    flight: str,
    origin: str,
    destination: str,
    day: date,
    seat: str | None = "23A",
) -> Leg:
    carrier, number = flight[:2], flight[2:]
    return Leg(
        pnr="ABC123",
        origin=origin,
        destination=destination,
        carrier=carrier,
        flight_number=number,
        julian_date=day.timetuple().tm_yday,
        compartment="Y",
        seat=seat,
        check_in_sequence="0042",
        passenger_status="1",
    )


def bp(*legs: Leg, name: str = NAME) -> JourneyEvidence:
    return JourneyEvidence(kind="boarding_pass", payload=bcbp_text(name, legs))


INBOUND = leg("KE805", "ICN", "TSN", date(2025, 7, 1))
ONWARD = leg("NH906", "TSN", "NRT", date(2025, 7, 3))


def test_normal_transit() -> None:
    result = assess_journey([bp(INBOUND), bp(ONWARD)], ARRIVAL)
    assert result.missing == ()
    assert result.findings == ()
    facts = result.facts
    assert facts is not None
    assert facts.arrived_from == "KOR"
    assert facts.onward_to == "JPN"
    assert facts.onward_departure == datetime(2025, 7, 3, 16, 25, tzinfo=CST)
    assert facts.onward_confirmed
    assert result.inbound == INBOUND
    assert result.onward == ONWARD
    assert result.onward_flight is not None
    assert result.passenger_names == (NAME,)
    # The order of the passes does not matter; one two-leg pass says the same.
    assert journey_facts([bp(ONWARD), bp(INBOUND)], ARRIVAL) == facts
    assert journey_facts([bp(INBOUND, ONWARD)], ARRIVAL) == facts


def test_regions_and_germany() -> None:
    hong_kong = leg("CA104", "HKG", "TSN", date(2025, 7, 1))
    macao = leg("NX19", "TSN", "MFM", date(2025, 7, 5))  # Saturday
    facts = journey_facts([bp(hong_kong), bp(macao)], ARRIVAL)
    assert facts is not None
    assert (facts.arrived_from, facts.onward_to) == ("HKG", "MAC")
    # From Frankfurt overnight: the pass is dated the day before the arrival.
    frankfurt = leg("HU7924", "FRA", "TSN", date(2025, 6, 30))
    facts = journey_facts([bp(frankfurt), bp(ONWARD)], datetime(2025, 7, 1, 5, 40, tzinfo=CST))
    assert facts is not None
    assert facts.arrived_from == "D"


def test_missing_inbound() -> None:
    result = assess_journey([bp(ONWARD)], ARRIVAL)
    assert result.facts is None
    assert result.missing == (MissingEvidence.INBOUND,)
    assert result.onward == ONWARD


def test_missing_onward() -> None:
    result = assess_journey([bp(INBOUND)], ARRIVAL)
    assert result.facts is None
    assert result.missing == (MissingEvidence.ONWARD,)
    assert result.inbound == INBOUND


def test_nothing_presented() -> None:
    result = assess_journey([], ARRIVAL)
    assert result.facts is None
    assert result.missing == (MissingEvidence.INBOUND, MissingEvidence.ONWARD)


def test_stale_inbound_and_past_onward_do_not_count() -> None:
    old = leg("KE805", "ICN", "TSN", date(2025, 6, 20))
    gone = leg("NH906", "TSN", "NRT", date(2025, 6, 30))
    result = assess_journey([bp(old), bp(gone)], ARRIVAL)
    assert result.missing == (MissingEvidence.INBOUND, MissingEvidence.ONWARD)
    assert any("2025-06-20" in f for f in result.findings)
    assert any("left before this arrival" in f for f in result.findings)
    # The same day but before the arrival time: not an onward flight either.
    early = leg("CA103", "TSN", "HKG", date(2025, 7, 1))  # 08:50, before 11:20
    assert assess_journey([bp(INBOUND), bp(early)], ARRIVAL).missing == (MissingEvidence.ONWARD,)


def test_a_domestic_leg_is_not_the_onward_flight() -> None:
    domestic = leg("GS6571", "TSN", "PVG", date(2025, 7, 2))
    result = assess_journey([bp(INBOUND), bp(domestic)], ARRIVAL)
    assert result.missing == (MissingEvidence.ONWARD,)
    # With a domestic leg and the international one, the international one counts.
    facts = journey_facts([bp(INBOUND), bp(domestic, ONWARD)], ARRIVAL)
    assert facts is not None
    assert facts.onward_to == "JPN"


def test_the_earliest_exit_is_the_onward_flight() -> None:
    later = leg("KE806", "TSN", "ICN", date(2025, 7, 5))
    facts = journey_facts([bp(INBOUND), bp(later), bp(ONWARD)], ARRIVAL)
    assert facts is not None
    assert facts.onward_to == "JPN"


def test_no_seat_is_not_confirmed() -> None:
    no_seat = leg("NH906", "TSN", "NRT", date(2025, 7, 3), seat=None)
    result = assess_journey([bp(INBOUND), bp(no_seat)], ARRIVAL)
    assert result.facts is not None
    assert not result.facts.onward_confirmed
    assert result.facts.onward_departure == datetime(2025, 7, 3, 16, 25, tzinfo=CST)
    assert any("no seat" in f for f in result.findings)


def test_flight_not_in_registry_is_not_confirmed() -> None:
    unknown = leg("CA9999", "TSN", "NRT", date(2025, 7, 3))
    result = assess_journey([bp(INBOUND), bp(unknown)], ARRIVAL)
    facts = result.facts
    assert facts is not None
    assert not facts.onward_confirmed
    assert facts.onward_departure == datetime(2025, 7, 3, 0, 0, tzinfo=CST)  # the date, no time
    assert facts.onward_to == "JPN"
    assert result.onward_flight is None
    assert any("not in the flight registry" in f for f in result.findings)


def test_flight_on_a_day_it_does_not_run_is_not_confirmed() -> None:
    tuesday = date(2025, 7, 8)  # GS7975 runs Mon, Wed, Fri, Sun
    result = assess_journey([bp(INBOUND), bp(leg("GS7975", "TSN", "NRT", tuesday))], ARRIVAL)
    assert result.facts is not None
    assert not result.facts.onward_confirmed
    assert result.facts.onward_departure == datetime(2025, 7, 8, tzinfo=CST)
    wednesday = date(2025, 7, 9)
    facts = journey_facts([bp(INBOUND), bp(leg("GS7975", "TSN", "NRT", wednesday))], ARRIVAL)
    assert facts is not None
    assert facts.onward_confirmed


def test_round_trip_facts_show_the_same_country() -> None:
    back = leg("KE806", "TSN", "ICN", date(2025, 7, 3))
    facts = journey_facts([bp(INBOUND), bp(back)], ARRIVAL)
    assert facts is not None
    assert facts.arrived_from == facts.onward_to == "KOR"  # the policy refers A == C


def test_year_end_dates() -> None:
    arrival = datetime(2025, 12, 31, 11, 20, tzinfo=CST)  # Wednesday
    inbound = leg("KE805", "ICN", "TSN", date(2025, 12, 31))
    onward = leg("NH906", "TSN", "NRT", date(2026, 1, 2))  # Julian day 2
    facts = journey_facts([bp(inbound), bp(onward)], arrival)
    assert facts is not None
    assert facts.onward_departure == datetime(2026, 1, 2, 16, 25, tzinfo=CST)
    assert facts.onward_confirmed


def test_different_names_are_noted() -> None:
    result = assess_journey([bp(INBOUND), bp(ONWARD, name="DOE/JANE")], ARRIVAL)
    assert result.facts is not None
    assert result.passenger_names == (NAME, "DOE/JANE")
    assert any("different passenger names" in f for f in result.findings)


def test_bad_barcodes_are_listed() -> None:
    evidence = [
        JourneyEvidence(kind="boarding_pass", payload="M1GARBAGE"),
        bp(INBOUND),
        JourneyEvidence(kind="cruise_card", payload="BGCRUISE1|X"),
        JourneyEvidence(
            kind="boarding_pass", payload=bcbp_text(NAME, [INBOUND]).replace("ICN", "QQX")
        ),
    ]
    with pytest.raises(JourneyEvidenceError) as caught:
        assess_journey(evidence, ARRIVAL)
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("item 1 (boarding pass): BCBP text")
    assert problems[1].startswith("item 3 (cruise card): cruise card text")
    assert "item 4 (boarding pass): leg 1: airport 'QQX'" in problems[2]
    assert isinstance(caught.value, ValueError)


def test_day_366_without_a_leap_year_near_is_an_evidence_error() -> None:
    arrival = datetime(2026, 7, 1, 11, 20, tzinfo=CST)  # 2025-2027: no 31 December of a leap year
    odd = INBOUND.model_copy(update={"julian_date": 366})
    with pytest.raises(JourneyEvidenceError, match="KE805: date of flight: day 366"):
        assess_journey([bp(odd), bp(ONWARD)], arrival)


def test_naive_arrival_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        assess_journey([bp(INBOUND)], datetime(2025, 7, 1, 11, 20))


# -- cruise cards ------------------------------------------------------------------------------


def test_cruise_card() -> None:
    card = cruise_card([JourneyEvidence(kind="cruise_card", payload=CARD)])
    assert card is not None
    assert (card.ship, card.voyage, card.document_number, card.nationality, card.cabin) == (
        "MSCSPL", "SP250601", "C01X00T47", "D", "8214",
    )  # fmt: skip
    assert card.text() == CARD
    assert cruise_card([]) is None
    assert cruise_card([bp(INBOUND)]) is None
    # The same card scanned twice is one card; two different ones are ambiguous.
    twice = [JourneyEvidence(kind="cruise_card", payload=CARD)] * 2
    assert cruise_card(twice) == card
    other = JourneyEvidence(kind="cruise_card", payload=CARD.replace("8214", "8215"))
    with pytest.raises(JourneyEvidenceError, match="2 different cruise cards"):
        cruise_card([twice[0], other])


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "format tag"),
        ("M1SMITH", "format tag"),
        ("BGCRUISE2|MSCSPL|SP250601|C01X00T47|D|8214", "format tag"),
        ("BGCRUISE1|MSCSPL|SP250601|C01X00T47|D", "text"),
        ("BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214|X", "text"),
        ("BGCRUISE1|M|SP250601|C01X00T47|D|8214", "ship"),
        ("BGCRUISE1|MSCSPL|SP 250601|C01X00T47|D|8214", "voyage"),
        ("BGCRUISE1|MSCSPL|SP250601|C01X00T47XX|D|8214", "document"),
        ("BGCRUISE1|MSCSPL|SP250601|C01X00T47|QQQ|8214", "nationality"),
        ("BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|", "cabin"),
        ("BGCRUISE1|" + "A" * 200, "text"),
    ],
)
def test_bad_cruise_cards(text: str, field: str) -> None:
    with pytest.raises(CruiseCardError, match=f"cruise card {field}") as caught:
        parse_cruise_card(text)
    assert caught.value.field == field


def test_a_cruise_card_sent_as_a_boarding_pass_is_an_error() -> None:
    kind: Literal["boarding_pass"] = "boarding_pass"
    with pytest.raises(JourneyEvidenceError, match=r"item 1 \(boarding pass\): BCBP"):
        cruise_card([JourneyEvidence(kind=kind, payload=CARD)])
