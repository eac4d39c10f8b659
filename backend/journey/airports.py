"""Airports by IATA code: the ICAO country or region code and the local time zone.

From the ``airportsdata`` table (ISO 3166-1 alpha-2 countries, IANA zones), mapped through
:func:`bordergate.countries.from_alpha2`: Germany is ``D``; Hong Kong, Macao and Taiwan (``HK``,
``MO``, ``TW``) are the regions ``HKG``, ``MAC``, ``TWN``; mainland China is ``CHN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import airportsdata

from bordergate.countries import CHINA, UnknownCountryError, from_alpha2


class UnknownAirportError(ValueError):
    def __init__(self, code: str, why: str = "not in the airport table") -> None:
        super().__init__(f"airport {code!r}: {why}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Airport:
    iata: str
    name: str
    city: str
    country: str
    """ICAO country or region code (``CHN``, ``HKG``, ``D``...)."""
    zone: ZoneInfo

    @property
    def mainland_china(self) -> bool:
        return self.country == CHINA


@lru_cache(maxsize=1)
def _table() -> Mapping[str, Mapping[str, object]]:
    raw = airportsdata.load("IATA")
    return MappingProxyType({code: MappingProxyType(dict(row)) for code, row in raw.items()})


@lru_cache(maxsize=4096)
def airport(code: str) -> Airport:
    """The airport with this IATA code; raises :class:`UnknownAirportError`."""
    key = code.strip().upper() if isinstance(code, str) else ""
    row = _table().get(key)
    if row is None:
        raise UnknownAirportError(str(code))
    try:
        country = from_alpha2(str(row["country"]))
    except UnknownCountryError:
        raise UnknownAirportError(key, f"unknown country {row['country']!r}") from None
    try:
        zone = ZoneInfo(str(row["tz"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownAirportError(key, f"unknown time zone {row['tz']!r}") from None
    return Airport(
        iata=key, name=str(row["name"]), city=str(row["city"]), country=country, zone=zone
    )


def country_of(code: str) -> str:
    """ICAO country or region code of the airport (``TSN`` -> ``CHN``, ``FRA`` -> ``D``)."""
    return airport(code).country


def zone_of(code: str) -> ZoneInfo:
    return airport(code).zone


def is_mainland_china(code: str) -> bool:
    return airport(code).mainland_china
