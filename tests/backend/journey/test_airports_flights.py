"""Airports (country or region, zone) and the flight registry from the shipped timetable."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from backend.journey.airports import UnknownAirportError, airport, country_of, is_mainland_china
from backend.journey.flights import (
    FlightRegistry,
    TimetableError,
    default_registry,
    load_registry,
)


@pytest.mark.parametrize(
    ("code", "country", "zone"),
    [
        ("TSN", "CHN", "Asia/Shanghai"),
        ("PEK", "CHN", "Asia/Shanghai"),
        ("HKG", "HKG", "Asia/Hong_Kong"),
        ("MFM", "MAC", "Asia/Macau"),
        ("TPE", "TWN", "Asia/Taipei"),
        ("FRA", "D", "Europe/Berlin"),
        ("ICN", "KOR", "Asia/Seoul"),
        ("SVO", "RUS", "Europe/Moscow"),
    ],
)
def test_airport_country_or_region_and_zone(code: str, country: str, zone: str) -> None:
    found = airport(code)
    assert found.country == country
    assert found.zone == ZoneInfo(zone)
    assert country_of(code.lower()) == country
    assert is_mainland_china(code) is (country == "CHN")


@pytest.mark.parametrize("code", ["XQX", "", "TSNN", "123"])
def test_unknown_airport(code: str) -> None:
    with pytest.raises(UnknownAirportError, match="not in the airport table"):
        airport(code)


def test_shipped_timetable_covers_the_routes() -> None:
    registry = default_registry()
    assert registry is default_registry()  # loaded once
    out = {e.destination for e in registry.entries if e.origin == "TSN"}
    inbound = {e.origin for e in registry.entries if e.destination == "TSN"}
    expected = {"ICN", "NRT", "KIX", "HKG", "SIN", "BKK", "SVO", "FRA", "DXB", "DOH", "TPE", "MFM"}
    assert expected <= out
    assert expected <= inbound
    countries = {country_of(code) for code in out}
    assert {"KOR", "JPN", "HKG", "MAC", "TWN", "SGP", "THA", "RUS", "D", "ARE", "QAT"} <= countries


def test_find_a_daily_flight() -> None:
    registry = default_registry()
    flight = registry.find("KE", "0806 ", date(2025, 7, 1), "TSN", "ICN")
    assert flight is not None
    assert flight.flight == "KE806"
    assert flight.departure == datetime(2025, 7, 1, 13, 20, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert flight.departure.utcoffset() == timedelta(hours=8)
    assert flight.arrival.tzinfo == ZoneInfo("Asia/Seoul")
    assert flight.arrival - flight.departure == timedelta(hours=1, minutes=55)
    assert registry.find("KE", "806", date(2025, 7, 1), destination="NRT") is None
    assert registry.find("KE", "807", date(2025, 7, 1)) is None
    assert registry.find("KE", "not a number", date(2025, 7, 1)) is None


def test_find_respects_weekdays_and_the_origin_zone() -> None:
    registry = default_registry()
    # HU7924 FRA-TSN runs Mon, Thu, Sat; departs 13:30 Frankfurt summer time (UTC+2).
    monday = date(2025, 7, 7)
    flight = registry.find("HU", "7924", monday, "FRA", "TSN")
    assert flight is not None
    assert flight.departure.utcoffset() == timedelta(hours=2)
    assert flight.arrival.date() == monday + timedelta(days=1)  # lands the next morning
    assert registry.find("HU", "7924", monday + timedelta(days=1)) is None  # Tuesday
    winter = registry.find("HU", "7924", date(2025, 1, 2))
    assert winter is not None
    assert winter.departure.utcoffset() == timedelta(hours=1)


def test_dated_expansion() -> None:
    registry = default_registry()
    week = list(registry.dated(date(2025, 7, 7), date(2025, 7, 13)))
    expected = sum(len(e.days) for e in registry.entries)
    assert len(week) == expected
    assert all(f.departure.date() == f.date for f in week)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "timetable.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = (
    '{carrier: KE, number: "806", from: TSN, to: ICN, departs: "13:20", duration: "1:55", '
    "days: [1]}"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("flights: [" + GOOD.replace("ICN", "QQQ") + "]", r"flight #1 .*airport 'QQQ'"),
        ("flights: [" + GOOD.replace("13:20", "25:00") + "]", "departure time '25:00'"),
        ("flights: [" + GOOD.replace("[1]", "[0, 8]") + "]", "ISO weekdays"),
        ("flights: [" + GOOD.replace('"1:55"', '"0:00"') + "]", "positive H:MM"),
        ("flights: [" + GOOD.replace('"806"', '"80X6"') + "]", "not a flight number"),
        ("flights: [" + GOOD + ", " + GOOD + "]", "duplicates flight #1"),
        ("flights: [" + GOOD.replace("days", "dayz") + "]", "flight #1"),
        ("flights: {", "not valid YAML"),
        ("- just a list", "a 'flights' list"),
    ],
)
def test_invalid_timetable_names_the_file(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(TimetableError, match=message) as caught:
        load_registry(path)
    assert str(path) in str(caught.value)


def test_missing_timetable_file(tmp_path: Path) -> None:
    with pytest.raises(TimetableError, match="cannot read"):
        load_registry(tmp_path / "nope.yaml")


def test_seasonal_validity(tmp_path: Path) -> None:
    seasonal = GOOD.replace("}", ", valid_from: 2025-03-30, valid_until: 2025-10-25}")
    registry = load_registry(_write(tmp_path, f"flights: [{seasonal}]"))
    assert isinstance(registry, FlightRegistry)
    assert registry.find("KE", "806", date(2025, 7, 7)) is not None  # a Monday in season
    assert registry.find("KE", "806", date(2025, 11, 3)) is None  # a Monday after it
