"""The flight registry: a weekly timetable (shipped as YAML) expanded to dated flights.

``backend/journey/data/timetable.yaml`` lists each flight with its carrier, number, origin and
destination airports, local departure time at the origin, block time and the weekdays it runs.
:meth:`FlightRegistry.find` answers whether a flight runs on a date (the local date of
departure at the origin, which is the date a boarding pass carries) and when it departs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backend.journey.airports import UnknownAirportError, airport
from backend.journey.bcbp import normalize_flight_number

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DURATION = re.compile(r"^(\d{1,2}):([0-5]\d)$")


class TimetableError(ValueError):
    """The timetable file is missing or invalid; the message names the file and the entry."""


class TimetableEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    carrier: str = Field(pattern=r"^[A-Z0-9]{2}[A-Z]?$")
    number: str
    origin: str = Field(alias="from")
    destination: str = Field(alias="to")
    departs: str = Field(description="Local time at the origin, HH:MM")
    duration: str = Field(description="Block time, H:MM")
    days: Annotated[tuple[int, ...], Field(min_length=1, max_length=7)]
    valid_from: date | None = None
    valid_until: date | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        normalized = normalize_flight_number(str(value))
        if normalized is None:
            raise ValueError(f"{value!r} is not a flight number (1-4 digits, optional letter)")
        return normalized

    @field_validator("origin", "destination")
    @classmethod
    def _airport(cls, value: str) -> str:
        try:
            return airport(value).iata
        except UnknownAirportError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("departs")
    @classmethod
    def _departs(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"departure time {value!r} is not HH:MM (00:00-23:59)")
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        match = _DURATION.match(value)
        if not match or (int(match.group(1)), int(match.group(2))) == (0, 0):
            raise ValueError(f"duration {value!r} is not a positive H:MM")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 7 for d in value) or len(set(value)) != len(value):
            raise ValueError(f"days {list(value)} must be distinct ISO weekdays 1-7")
        return tuple(sorted(value))

    @property
    def departure_time(self) -> time:
        hours, minutes = self.departs.split(":")
        return time(int(hours), int(minutes))

    @property
    def block_time(self) -> timedelta:
        hours, minutes = self.duration.split(":")
        return timedelta(hours=int(hours), minutes=int(minutes))

    def runs_on(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_until is not None and day > self.valid_until:
            return False
        return day.isoweekday() in self.days


@dataclass(frozen=True, slots=True)
class ScheduledFlight:
    """One dated flight."""

    carrier: str
    number: str
    origin: str
    destination: str
    departure: datetime
    """Scheduled departure, aware, in the origin airport's zone."""
    arrival: datetime
    """Scheduled arrival, aware, in the destination airport's zone."""

    @property
    def flight(self) -> str:
        return f"{self.carrier}{self.number}"

    @property
    def date(self) -> date:
        """The local date of departure (what a boarding pass carries)."""
        return self.departure.date()


def _dated(entry: TimetableEntry, day: date) -> ScheduledFlight:
    departure = datetime.combine(day, entry.departure_time, tzinfo=airport(entry.origin).zone)
    arrival = (departure + entry.block_time).astimezone(airport(entry.destination).zone)
    return ScheduledFlight(
        carrier=entry.carrier,
        number=entry.number,
        origin=entry.origin,
        destination=entry.destination,
        departure=departure,
        arrival=arrival,
    )


class FlightRegistry:
    """Dated flights from a weekly timetable (immutable once built)."""

    def __init__(self, entries: Sequence[TimetableEntry]) -> None:
        self.entries: tuple[TimetableEntry, ...] = tuple(entries)
        index: dict[tuple[str, str], list[TimetableEntry]] = {}
        for entry in self.entries:
            index.setdefault((entry.carrier, entry.number), []).append(entry)
        self._index: Mapping[tuple[str, str], tuple[TimetableEntry, ...]] = {
            key: tuple(value) for key, value in index.items()
        }

    def find(
        self,
        carrier: str,
        flight_number: str,
        on: date,
        origin: str | None = None,
        destination: str | None = None,
    ) -> ScheduledFlight | None:
        """The flight departing on ``on`` (local date at the origin), or None if it does not run.

        ``flight_number`` may be as printed (``'0834 '``) or normalised (``'834'``); origin and
        destination, when given, must match.
        """
        number = normalize_flight_number(flight_number)
        if number is None:
            return None
        for entry in self._index.get((carrier.strip().upper(), number), ()):
            if origin is not None and entry.origin != origin.strip().upper():
                continue
            if destination is not None and entry.destination != destination.strip().upper():
                continue
            if entry.runs_on(on):
                return _dated(entry, on)
        return None

    def flights_on(self, day: date) -> list[ScheduledFlight]:
        """Every flight departing on ``day`` (local date at its origin), by departure time."""
        found = [_dated(e, day) for e in self.entries if e.runs_on(day)]
        return sorted(found, key=lambda f: (f.departure, f.flight))

    def dated(self, start: date, end: date) -> Iterator[ScheduledFlight]:
        """The timetable expanded to dated flights, ``start`` to ``end`` inclusive."""
        day = start
        while day <= end:
            yield from self.flights_on(day)
            day += timedelta(days=1)


def _entries_from(data: Any, source: str) -> list[TimetableEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("flights"), list):
        raise TimetableError(f"{source}: expected a mapping with a 'flights' list")
    entries: list[TimetableEntry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, raw in enumerate(data["flights"]):
        try:
            entry = TimetableEntry.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
                for err in exc.errors()
            )
            raise TimetableError(f"{source}: flight #{i + 1} ({raw!r}): {problems}") from None
        key = (entry.carrier, entry.number, entry.origin)
        if key in seen and set(entries[seen[key]].days) & set(entry.days):
            raise TimetableError(
                f"{source}: flight #{i + 1} {entry.carrier}{entry.number} from {entry.origin} "
                f"duplicates flight #{seen[key] + 1} on the same weekdays"
            )
        seen[key] = len(entries)
        entries.append(entry)
    return entries


def load_registry(path: Path | None = None) -> FlightRegistry:
    """Load and validate a timetable (default: the shipped one); raises TimetableError."""
    if path is None:
        source = "backend/journey/data/timetable.yaml"
        try:
            text = resources.files("backend.journey.data").joinpath("timetable.yaml").read_text()
        except OSError as exc:
            raise TimetableError(f"{source}: cannot read: {exc}") from None
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TimetableError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TimetableError(f"{source}: not valid YAML: {exc}") from None
    return FlightRegistry(_entries_from(data, source))


@lru_cache(maxsize=1)
def default_registry() -> FlightRegistry:
    """The shipped timetable, loaded once."""
    return load_registry()
