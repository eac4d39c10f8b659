"""The cruise boarding card (ship card) barcode: bordergate's own text format, in a PDF417.

Cruise lines follow no industry standard for their cards, so bordergate defines one. The text is
seven fields separated by ``|``, upper-case ASCII, no spaces::

    BGCRUISE1|<ship>|<voyage>|<document>|<nationality>|<cabin>

* ``BGCRUISE1``: the format tag and version (``BGCRUISE`` + version ``1``);
* ``ship``: the ship code, 2-10 letters or digits (e.g. ``MSCSPL`` for MSC Splendida);
* ``voyage``: the voyage number, 1-16 letters, digits or ``-`` (e.g. ``SP250601``);
* ``document``: the passport number the passenger sailed on, 1-9 letters or digits, as in
  the MRZ without fillers;
* ``nationality``: the ICAO code as in the MRZ (``D`` for Germany);
* ``cabin``: 1-6 letters or digits (e.g. ``8214``).

Example: ``BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from bordergate.countries import UnknownCountryError, normalize

TAG = "BGCRUISE"
VERSION = "1"
PREFIX = f"{TAG}{VERSION}"
MAX_LENGTH = 128

_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("ship", r"^[A-Z0-9]{2,10}$", "2-10 letters or digits"),
    ("voyage", r"^[A-Z0-9-]{1,16}$", "1-16 letters, digits or '-'"),
    ("document", r"^[A-Z0-9]{1,9}$", "1-9 letters or digits"),
    ("nationality", r"^[A-Z]{1,3}$", "an ICAO country code"),
    ("cabin", r"^[A-Z0-9]{1,6}$", "1-6 letters or digits"),
)


class CruiseCardError(ValueError):
    """Not a valid bordergate cruise card; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"cruise card {field}: {message}")
        self.field = field


class CruiseCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ship: str = Field(pattern=_FIELDS[0][1])
    voyage: str = Field(pattern=_FIELDS[1][1])
    document_number: str = Field(pattern=_FIELDS[2][1])
    nationality: str = Field(pattern=_FIELDS[3][1])
    cabin: str = Field(pattern=_FIELDS[4][1])

    def text(self) -> str:
        """The barcode text of this card."""
        return "|".join(
            (PREFIX, self.ship, self.voyage, self.document_number, self.nationality, self.cabin)
        )


def is_cruise_card(text: str) -> bool:
    return text.startswith(TAG)


def parse_cruise_card(text: str) -> CruiseCard:
    """Parse a cruise card's barcode text; raises :class:`CruiseCardError` (a ValueError)."""
    if not isinstance(text, str):
        raise CruiseCardError("text", f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise CruiseCardError("text", f"{len(text)} characters, at most {MAX_LENGTH}")
    if not text.startswith(TAG):
        raise CruiseCardError("format tag", f"does not start with {TAG!r}")
    parts = text.split("|")
    if parts[0] != PREFIX:
        raise CruiseCardError("format tag", f"{parts[0][:16]!r} is not {PREFIX!r}")
    if len(parts) != 1 + len(_FIELDS):
        raise CruiseCardError(
            "text", f"{len(parts)} '|'-separated fields, expected {1 + len(_FIELDS)}"
        )
    values: dict[str, str] = {}
    for (name, pattern, what), value in zip(_FIELDS, parts[1:], strict=True):
        if not re.match(pattern, value):
            raise CruiseCardError(name, f"{value[:20]!r} is not {what}")
        values[name] = value
    try:
        nationality = normalize(values["nationality"])
    except UnknownCountryError:
        raise CruiseCardError(
            "nationality", f"{values['nationality']!r} is not a known ICAO code"
        ) from None
    return CruiseCard(
        ship=values["ship"],
        voyage=values["voyage"],
        document_number=values["document"],
        nationality=nationality,
        cabin=values["cabin"],
    )
