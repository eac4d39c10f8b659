"""Country and region codes as ICAO Doc 9303 prints them (part 3, section 5).

ICAO uses ISO 3166-1 alpha-3 with exceptions: ``D`` for Germany, the British variants, UN and
stateless codes, the specimen state ``UTO``. Hong Kong, Macao and Taiwan are regions of their own
for the transit route rule, and are not mainland China.
"""

from __future__ import annotations

import iso3166

CHINA = "CHN"
REGIONS = frozenset({"HKG", "MAC", "TWN"})

# Codes ICAO adds to (or uses instead of) ISO 3166-1 alpha-3.
ICAO_EXTRA_CODES: dict[str, str] = {
    "D": "Germany",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "Specialized agency of the United Nations or one of its officials",
    "UNK": "Resident of Kosovo (UNMIK)",
    "XBA": "African Development Bank",
    "XIM": "African Export-Import Bank",
    "XCC": "Caribbean Community (CARICOM)",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa",
    "XEC": "Economic Community of West African States",
    "XPO": "International Criminal Police Organization (INTERPOL)",
    "XES": "Organization of Eastern Caribbean States",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XOM": "Sovereign Military Order of Malta",
    "XDC": "Southern African Development Community",
    "XXA": "Stateless person",
    "XXB": "Refugee (1951 Convention)",
    "XXC": "Refugee (other)",
    "XXX": "Person of unspecified nationality",
    "EUE": "European Union",
    "RKS": "Kosovo",
    "UTO": "Utopia (ICAO specimen state)",
}
# ISO codes ICAO does not use for travel documents: Germany's documents say D.
_ISO_REPLACED = {"DEU": "D"}


class UnknownCountryError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown country or region code {code!r} (ICAO Doc 9303 part 3)")
        self.code = code


def _iso_alpha3() -> frozenset[str]:
    return frozenset(c.alpha3 for c in iso3166.countries)


_KNOWN = (_iso_alpha3() - _ISO_REPLACED.keys()) | ICAO_EXTRA_CODES.keys()


def normalize(code: str) -> str:
    """An ICAO code as printed (MRZ fillers stripped, upper case); raises UnknownCountryError.

    ``DEU`` is accepted as Germany and returned as ``D``.
    """
    cleaned = code.strip().upper().rstrip("<")
    cleaned = _ISO_REPLACED.get(cleaned, cleaned)
    if cleaned not in _KNOWN:
        raise UnknownCountryError(code)
    return cleaned


def is_known(code: str) -> bool:
    try:
        normalize(code)
    except UnknownCountryError:
        return False
    return True


def from_alpha2(alpha2: str) -> str:
    """The ICAO code for an ISO 3166-1 alpha-2 code (airport tables use alpha-2)."""
    try:
        alpha3 = iso3166.countries_by_alpha2[alpha2.upper()].alpha3
    except KeyError:
        raise UnknownCountryError(alpha2) from None
    return _ISO_REPLACED.get(alpha3, alpha3)


def is_mainland_china(code: str) -> bool:
    return normalize(code) == CHINA
