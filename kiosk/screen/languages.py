"""The screen's language from the passport's nationality (ICAO code); English otherwise."""

from __future__ import annotations

from typing import Final

from kiosk.screen.translations import DEFAULT_LANGUAGE

_BY_LANGUAGE: Final[dict[str, tuple[str, ...]]] = {
    "zh": ("CHN", "HKG", "MAC", "TWN"),
    "ja": ("JPN",),
    "ko": ("KOR", "PRK"),
    "ru": ("RUS", "BLR", "KAZ", "KGZ", "TJK", "UZB", "TKM", "ARM", "AZE", "MDA"),
    "fr": ("FRA", "MCO", "SEN", "CIV", "MLI", "BFA", "NER", "TCD", "CMR", "GAB", "COG",
           "COD", "BEN", "TGO", "GIN", "MDG", "HTI"),
    "de": ("D", "DEU", "AUT", "LIE"),
    "es": ("ESP", "MEX", "ARG", "CHL", "COL", "PER", "VEN", "ECU", "BOL", "PRY", "URY", "CUB",
           "DOM", "GTM", "HND", "SLV", "NIC", "CRI", "PAN"),
    "ar": ("SAU", "ARE", "QAT", "KWT", "BHR", "OMN", "YEM", "IRQ", "JOR", "SYR", "LBN", "EGY",
           "LBY", "TUN", "DZA", "MAR", "SDN", "MRT", "PSE"),
}  # fmt: skip

NATIONALITY_LANGUAGE: Final[dict[str, str]] = {
    code: language for language, codes in _BY_LANGUAGE.items() for code in codes
}
"""ICAO nationality code -> screen language; anything else gets English."""


def language_for(nationality: str | None) -> str:
    """The language a traveller of ``nationality`` most likely reads (the default if unknown)."""
    if not nationality:
        return DEFAULT_LANGUAGE
    return NATIONALITY_LANGUAGE.get(nationality.strip().upper().rstrip("<"), DEFAULT_LANGUAGE)
