"""IATA Bar Coded Boarding Pass (BCBP, Resolution 792), format 'M': parse the barcode's text.

Layout (character counts; positions are 0-based offsets into the text):

* mandatory unique items (23): format code ``M`` (1), number of legs encoded (1, 1-4),
  passenger name (20, ``SURNAME/GIVEN`` padded with spaces), electronic ticket indicator (1);
* per leg, mandatory repeated items (37): operating carrier PNR code (7), from city airport
  code (3), to city airport code (3), operating carrier designator (3), flight number (5,
  ``NNNN`` plus an optional letter), date of flight (3, Julian day of the year), compartment
  code (1), seat number (4, ``NNNA``), check-in sequence number (5), passenger status (1), field
  size of the following variable size field (2, hexadecimal);
* then that many characters of conditional items (the first leg's carry the unique
  conditional items, starting with ``>`` and the version number), kept raw here;
* after the last leg, optional security data (``^``, type, hex length, data), kept raw.

The date of flight carries no year: :func:`flight_date` resolves it against a reference date.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_LEGS = 4
UNIQUE_LENGTH = 23
LEG_LENGTH = 37

_AIRPORT = re.compile(r"^[A-Z]{3}$")
_CARRIER = re.compile(r"^[A-Z0-9]{2}[A-Z]?$")
_FLIGHT = re.compile(r"^0*(\d{1,4})([A-Z]?)$")
_SEAT = re.compile(r"^0*(\d{1,3})([A-Z])$")
_HEX = frozenset("0123456789ABCDEFabcdef")


class BCBPError(ValueError):
    """A boarding pass text that is not valid BCBP format M; names the field and its offset."""

    def __init__(self, field: str, position: int, message: str) -> None:
        super().__init__(f"BCBP {field} at offset {position}: {message}")
        self.field = field
        self.position = position


class Leg(BaseModel):
    """One flight leg: the mandatory items normalised, the conditional items raw."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pnr: str = Field(max_length=7, description="Operating carrier PNR code, spaces stripped")
    origin: str = Field(pattern=_AIRPORT.pattern, description="From city airport code (IATA)")
    destination: str = Field(pattern=_AIRPORT.pattern, description="To city airport code")
    carrier: str = Field(pattern=_CARRIER.pattern, description="Operating carrier designator")
    flight_number: str = Field(
        pattern=r"^[1-9]\d{0,3}[A-Z]?$|^0[A-Z]?$", description="No leading zeros: '0834 ' -> '834'"
    )
    julian_date: int = Field(ge=1, le=366, description="Day of the year of the flight (local)")
    compartment: str = Field(pattern=r"^[A-Z ]$")
    seat: str | None = Field(
        default=None, max_length=4, description="'001A' -> '1A'; None when blank; else as printed"
    )
    check_in_sequence: str = Field(default="", max_length=5)
    passenger_status: str = Field(pattern=r"^[ -~]$", default="0")
    conditional: str = Field(default="", max_length=255, description="Raw conditional items")

    @property
    def flight(self) -> str:
        """Carrier and number, e.g. ``CA1234``."""
        return f"{self.carrier}{self.flight_number}"

    @property
    def seat_assigned(self) -> bool:
        """A real seat (row and letter), not blank, ``INF``, ``GATE`` or ``STBY``."""
        return self.seat is not None and _SEAT.match(self.seat) is not None


class BoardingPass(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_code: Literal["M"] = "M"
    passenger_name: str = Field(max_length=20, description="As printed, trailing spaces stripped")
    electronic_ticket: bool
    legs: Annotated[tuple[Leg, ...], Field(min_length=1, max_length=MAX_LEGS)]
    security_data: str = Field(default="", description="Raw, from '^' on; empty if none")

    @property
    def version(self) -> str | None:
        """The BCBP version number from the first leg's conditional items, if present."""
        conditional = self.legs[0].conditional
        if len(conditional) >= 2 and conditional[0] == ">":
            return conditional[1]
        return None


def normalize_flight_number(raw: str) -> str | None:
    """``'0834 '`` -> ``'834'``, ``'1234A'`` -> ``'1234A'``; None if it is not a flight number."""
    match = _FLIGHT.match(raw.strip().upper())
    if match is None:
        return None
    return f"{int(match.group(1))}{match.group(2)}"


def normalize_seat(raw: str) -> str | None:
    """``'001A'`` -> ``'1A'``; blank -> None; anything else (``INF``, ``GATE``) as printed."""
    cleaned = raw.strip().upper()
    if not cleaned:
        return None
    match = _SEAT.match(cleaned)
    if match is None:
        return cleaned
    return f"{int(match.group(1))}{match.group(2)}"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def take(self, field: str, length: int) -> str:
        end = self.pos + length
        if end > len(self.text):
            raise BCBPError(
                field,
                self.pos,
                f"text too short: needs {length} characters, {len(self.text) - self.pos} left "
                f"(total length {len(self.text)})",
            )
        value = self.text[self.pos : end]
        self.pos = end
        return value


def _parse_leg(reader: _Reader, index: int) -> Leg:
    label = f"leg {index + 1}"

    def field(name: str, length: int) -> tuple[str, int]:
        start = reader.pos
        return reader.take(f"{label} {name}", length), start

    pnr, _ = field("PNR code", 7)
    origin, origin_at = field("from airport", 3)
    destination, destination_at = field("to airport", 3)
    carrier_raw, carrier_at = field("carrier designator", 3)
    flight_raw, flight_at = field("flight number", 5)
    julian_raw, julian_at = field("date of flight", 3)
    compartment, compartment_at = field("compartment code", 1)
    seat_raw, _ = field("seat number", 4)
    sequence, _ = field("check-in sequence number", 5)
    status, _ = field("passenger status", 1)
    size_raw, size_at = field("variable field size", 2)

    for name, value, at in (("from airport", origin, origin_at),
                            ("to airport", destination, destination_at)):  # fmt: skip
        if not _AIRPORT.match(value):
            raise BCBPError(f"{label} {name}", at, f"{value!r} is not a 3-letter airport code")
    carrier = carrier_raw.strip()
    if not _CARRIER.match(carrier):
        raise BCBPError(
            f"{label} carrier designator", carrier_at, f"{carrier_raw!r} is not an airline code"
        )
    flight_number = normalize_flight_number(flight_raw)
    if flight_number is None:
        raise BCBPError(
            f"{label} flight number", flight_at, f"{flight_raw!r} is not NNNN[A] (1-4 digits)"
        )
    julian_text = julian_raw.strip()
    if not julian_text.isdigit() or not julian_text.isascii():
        raise BCBPError(
            f"{label} date of flight", julian_at, f"{julian_raw!r} is not a day of the year"
        )
    julian = int(julian_text)
    if not 1 <= julian <= 366:
        raise BCBPError(f"{label} date of flight", julian_at, f"day {julian} is not in 1-366")
    if not re.match(r"^[A-Z ]$", compartment):
        raise BCBPError(
            f"{label} compartment code", compartment_at, f"{compartment!r} is not a letter"
        )
    if len(size_raw) != 2 or not set(size_raw) <= _HEX:
        raise BCBPError(
            f"{label} variable field size", size_at, f"{size_raw!r} is not two hex digits"
        )
    size = int(size_raw, 16)
    conditional_at = reader.pos
    if conditional_at + size > len(reader.text):
        raise BCBPError(
            f"{label} conditional items",
            conditional_at,
            f"field size {size} (0x{size_raw}) runs past the end of the text "
            f"({len(reader.text) - conditional_at} characters left)",
        )
    conditional = reader.take(f"{label} conditional items", size)
    return Leg(
        pnr=pnr.strip(),
        origin=origin,
        destination=destination,
        carrier=carrier,
        flight_number=flight_number,
        julian_date=julian,
        compartment=compartment,
        seat=normalize_seat(seat_raw),
        check_in_sequence=sequence.strip(),
        passenger_status=status,
        conditional=conditional,
    )


def parse_bcbp(text: str) -> BoardingPass:
    """Parse a format 'M' boarding pass; raises :class:`BCBPError` (a ValueError) if invalid."""
    if not isinstance(text, str):
        raise BCBPError("text", 0, f"expected a string, got {type(text).__name__}")
    for i, ch in enumerate(text):
        if not " " <= ch <= "~":
            raise BCBPError("text", i, f"character {ch!r} is not printable ASCII")
    if len(text) < UNIQUE_LENGTH + LEG_LENGTH:
        raise BCBPError(
            "text",
            len(text),
            f"too short: {len(text)} characters, a one-leg pass has at least "
            f"{UNIQUE_LENGTH + LEG_LENGTH}",
        )
    if text[0] != "M":
        raise BCBPError("format code", 0, f"{text[0]!r} is not 'M'")
    legs_raw = text[1]
    if not legs_raw.isdigit() or not 1 <= int(legs_raw) <= MAX_LEGS:
        raise BCBPError("number of legs encoded", 1, f"{legs_raw!r} is not 1-{MAX_LEGS}")
    ticket = text[22]
    if ticket not in "E ":
        raise BCBPError("electronic ticket indicator", 22, f"{ticket!r} is not 'E' or ' '")
    reader = _Reader(text)
    reader.pos = UNIQUE_LENGTH
    try:
        legs = tuple(_parse_leg(reader, i) for i in range(int(legs_raw)))
    except ValidationError as exc:  # pragma: no cover - _parse_leg checks every field first
        raise BCBPError("leg", reader.pos, str(exc)) from exc
    rest = text[reader.pos :]
    if rest and not rest.startswith("^"):
        raise BCBPError("security data", reader.pos, f"unexpected {rest[:10]!r} after the last leg")
    name = text[2:22].rstrip()
    if not name:
        raise BCBPError("passenger name", 2, "blank")
    try:
        return BoardingPass(
            passenger_name=name, electronic_ticket=ticket == "E", legs=legs, security_data=rest
        )
    except ValidationError as exc:  # pragma: no cover - the checks above come first
        raise BCBPError("text", 0, str(exc)) from exc


def _day_of_year(year: int, julian_day: int) -> date | None:
    try:
        day = date(year, 1, 1) + timedelta(days=julian_day - 1)
    except OverflowError:  # pragma: no cover - years 1 and 9999 only
        return None
    return day if day.year == year else None


def flight_date(julian_day: int, reference: date) -> date:
    """The date with this day of the year nearest ``reference`` (last, this or next year).

    A boarding pass is used within days of its flight, so day 365 read on 2 January is the
    previous 31 December (30 December after a leap year), and day 366 is a 31 December of a
    leap year. Raises ValueError for a day outside 1-366 or a day 366 with no leap year near.
    """
    if not 1 <= julian_day <= 366:
        raise ValueError(f"day of the year {julian_day} is not in 1-366")
    candidates = [
        d
        for year in (reference.year - 1, reference.year, reference.year + 1)
        if (d := _day_of_year(year, julian_day)) is not None
    ]
    if not candidates:
        raise ValueError(f"day 366 does not exist within a year of {reference.isoformat()}")
    return min(candidates, key=lambda d: (abs((d - reference).days), d))
