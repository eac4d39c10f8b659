"""IATA BCBP format 'M': the Resolution 792 examples, round trips, corrupted passes, dates."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.journey.bcbp import BCBPError, BoardingPass, Leg, flight_date, parse_bcbp
from hardware_mocks.boarding_pass import encode_bcbp

# Resolution 792 Attachment B examples (as quoted by the open-source BCBP parsers).
EXAMPLE_1 = "M1DESMARAIS/LUC       EABC123 YULFRAAC 0834 326J001A0025 100"
EXAMPLE_2 = (
    "M1DESMARAIS/LUC       EAB12C3 YULFRAAC 0834 326J003A0027 167>5321WW1325BAC 0014123456002"
    "001412346700100141234789012A0141234567890 1AC AC 1234567890123    4PCYLX58Z^108ABCDEFGH"
)
EXAMPLE_4 = (
    "M2DESMARAIS/LUC       EAB12C3 YULFRAAC 0834 326J003A0027 167>5321WW1325BAC 0014123456002"
    "001412346700100141234789012A0141234567890 1AC AC 1234567890123    4PCYLX58ZDEF456 FRAGVALH"
    " 3664 327C012C0002 12E2A0140987654321 1AC AC 1234567890123    3PCNWQ^108ABCDEFGH"
)
EXAMPLE_5 = (
    "M2GRANDMAIRE/MELANIE  EABC123 GVACDGAF 0123 339C002F0025 130>5002A0571234567890  AF AF "
    "1234567890123456    YDEF456 CDGDTWNW 0049 339F001A0002 12C2A012098765432101          "
    "             2PC ^108ABCDEFGH"
)


def test_example_1_mandatory_items() -> None:
    bp = parse_bcbp(EXAMPLE_1)
    assert bp.passenger_name == "DESMARAIS/LUC"
    assert bp.electronic_ticket
    assert bp.version is None
    assert bp.security_data == ""
    (leg,) = bp.legs
    assert leg == Leg(
        pnr="ABC123",
        origin="YUL",
        destination="FRA",
        carrier="AC",
        flight_number="834",
        julian_date=326,
        compartment="J",
        seat="1A",
        check_in_sequence="0025",
        passenger_status="1",
        conditional="",
    )
    assert leg.flight == "AC834"
    assert leg.seat_assigned


def test_example_2_conditional_and_security_kept_raw() -> None:
    bp = parse_bcbp(EXAMPLE_2)
    (leg,) = bp.legs
    assert len(leg.conditional) == 0x67
    assert leg.conditional.startswith(">5321WW1325BAC")
    assert leg.conditional.endswith("4PCYLX58Z")
    assert bp.version == "5"
    assert bp.security_data == "^108ABCDEFGH"
    assert leg.seat == "3A"


@pytest.mark.parametrize(
    ("text", "flights", "seats"),
    [
        (EXAMPLE_4, ["AC834", "LH3664"], ["3A", "12C"]),
        (EXAMPLE_5, ["AF123", "NW49"], ["2F", "1A"]),
    ],
)
def test_multi_leg_examples_skip_each_legs_conditional_items(
    text: str, flights: list[str], seats: list[str]
) -> None:
    bp = parse_bcbp(text)
    assert [leg.flight for leg in bp.legs] == flights
    assert [leg.seat for leg in bp.legs] == seats
    assert bp.legs[1].origin == bp.legs[0].destination
    assert bp.security_data == "^108ABCDEFGH"
    assert encode_bcbp(bp) == text  # our encoder writes the same text back


def test_normalisation_of_flight_number_and_seat() -> None:
    text = EXAMPLE_1.replace("0834 ", "0012A").replace("001A", "    ")
    leg = parse_bcbp(text).legs[0]
    assert leg.flight_number == "12A"
    assert leg.seat is None
    assert not leg.seat_assigned
    leg = parse_bcbp(EXAMPLE_1.replace("001A", "INF ")).legs[0]
    assert leg.seat == "INF"
    assert not leg.seat_assigned


# -- round trips -------------------------------------------------------------------------------

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)

legs = st.builds(
    Leg,
    pnr=st.text(_ALNUM, max_size=7),
    origin=st.text(_LETTERS, min_size=3, max_size=3),
    destination=st.text(_LETTERS, min_size=3, max_size=3),
    carrier=st.tuples(st.text(_ALNUM, min_size=2, max_size=2), st.text(_LETTERS, max_size=1)).map(
        "".join
    ),
    flight_number=st.tuples(st.integers(1, 9999), st.text(_LETTERS, max_size=1)).map(
        lambda t: f"{t[0]}{t[1]}"
    ),
    julian_date=st.integers(1, 366),
    compartment=st.sampled_from(_LETTERS),
    seat=st.none()
    | st.tuples(st.integers(1, 999), st.sampled_from(_LETTERS)).map(lambda t: f"{t[0]}{t[1]}"),
    check_in_sequence=st.text("0123456789", max_size=4),
    passenger_status=st.sampled_from("0123456789A"),
    conditional=st.text(_PRINTABLE, max_size=120),
)
passes = st.builds(
    BoardingPass,
    passenger_name=st.text(_LETTERS + "/ -", min_size=1, max_size=20).map(str.rstrip).filter(bool),
    electronic_ticket=st.booleans(),
    legs=st.lists(legs, min_size=1, max_size=4).map(tuple),
    security_data=st.just("") | st.text(_PRINTABLE, max_size=80).map(lambda s: "^" + s),
)


@settings(max_examples=300, deadline=None)
@given(passes)
def test_generated_passes_round_trip(bp: BoardingPass) -> None:
    text = encode_bcbp(bp)
    assert parse_bcbp(text) == bp


def _end_of_legs(bp: BoardingPass) -> int:
    return len(encode_bcbp(bp)) - len(bp.security_data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passes, st.data())
def test_any_truncation_inside_the_legs_is_a_bcbp_error(
    bp: BoardingPass, data: st.DataObject
) -> None:
    text = encode_bcbp(bp)
    cut = data.draw(st.integers(0, _end_of_legs(bp) - 1))
    with pytest.raises(BCBPError):
        parse_bcbp(text[:cut])


@settings(max_examples=150, deadline=None)
@given(passes, st.data())
def test_bad_hex_size_is_a_bcbp_error_naming_the_field(
    bp: BoardingPass, data: st.DataObject
) -> None:
    text = encode_bcbp(bp)
    # Offset of leg N's size field: 23 + sum of the previous legs + 35.
    index = data.draw(st.integers(0, len(bp.legs) - 1))
    at = 23 + sum(37 + len(leg.conditional) for leg in bp.legs[:index]) + 35
    bad = data.draw(st.sampled_from(["G0", "0Z", " 1", "-1", "XX"]))
    with pytest.raises(BCBPError, match=rf"leg {index + 1} variable field size at offset {at}"):
        parse_bcbp(text[:at] + bad + text[at + 2 :])


@settings(max_examples=150, deadline=None)
@given(passes, st.data())
def test_bad_julian_day_is_a_bcbp_error(bp: BoardingPass, data: st.DataObject) -> None:
    text = encode_bcbp(bp)
    index = data.draw(st.integers(0, len(bp.legs) - 1))
    at = 23 + sum(37 + len(leg.conditional) for leg in bp.legs[:index]) + 21
    bad = data.draw(st.sampled_from(["000", "367", "999", "A12", "1-2", "   "]))
    with pytest.raises(BCBPError, match=rf"leg {index + 1} date of flight at offset {at}"):
        parse_bcbp(text[:at] + bad + text[at + 3 :])


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200) | st.text(_PRINTABLE, max_size=200).map(lambda s: "M1" + s))
def test_arbitrary_text_is_a_pass_or_a_bcbp_error(text: str) -> None:
    with contextlib.suppress(BCBPError):  # anything else fails the test
        parse_bcbp(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "too short"),
        (EXAMPLE_1[:59], "too short: 59 characters"),
        ("X" + EXAMPLE_1[1:], "format code at offset 0"),
        ("M0" + EXAMPLE_1[2:], "number of legs encoded at offset 1"),
        ("M5" + EXAMPLE_1[2:], "number of legs encoded at offset 1"),
        ("M2" + EXAMPLE_1[2:], "leg 2 PNR code at offset 60: text too short"),
        (EXAMPLE_1[:-2] + "05", "leg 1 conditional items at offset 60: field size 5"),
        (EXAMPLE_1 + "+", "security data at offset 60"),
        (EXAMPLE_1.replace("YUL", "Y1L"), "leg 1 from airport at offset 30"),
        (EXAMPLE_1.replace("0834 ", "08X4 "), "leg 1 flight number at offset 39"),
        (EXAMPLE_1.replace("LUC ", "LÜC "), "text at offset 13: character"),
        (EXAMPLE_1[:22] + "X" + EXAMPLE_1[23:], "electronic ticket indicator at offset 22"),
    ],
)
def test_rejections_name_the_field_and_offset(text: str, message: str) -> None:
    with pytest.raises(BCBPError, match=message) as caught:
        parse_bcbp(text)
    assert isinstance(caught.value, ValueError)


# -- the date of flight ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "reference", "expected"),
    [
        (326, date(2025, 11, 20), date(2025, 11, 22)),
        (365, date(2025, 1, 2), date(2024, 12, 30)),  # 2024 is a leap year
        (366, date(2025, 1, 2), date(2024, 12, 31)),
        (365, date(2024, 1, 2), date(2023, 12, 31)),
        (1, date(2024, 12, 31), date(2025, 1, 1)),
        (2, date(2025, 12, 30), date(2026, 1, 2)),
        (60, date(2024, 3, 1), date(2024, 2, 29)),
        (60, date(2025, 3, 1), date(2025, 3, 1)),
        (366, date(2023, 6, 1), date(2024, 12, 31)),  # the only leap year near
    ],
)
def test_flight_date_is_the_nearest(day: int, reference: date, expected: date) -> None:
    assert flight_date(day, reference) == expected


def test_flight_date_rejects_impossible_days() -> None:
    with pytest.raises(ValueError, match="not in 1-366"):
        flight_date(0, date(2025, 1, 1))
    with pytest.raises(ValueError, match="day 366 does not exist"):
        flight_date(366, date(2022, 6, 1))  # 2021-2023: no leap year


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)), st.integers(-150, 150))
def test_flight_date_recovers_any_date_within_five_months(reference: date, offset: int) -> None:
    actual = reference + timedelta(days=offset)
    assert flight_date(actual.timetuple().tm_yday, reference) == actual
