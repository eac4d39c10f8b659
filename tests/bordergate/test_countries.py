from __future__ import annotations

import pytest

from bordergate.countries import (
    REGIONS,
    UnknownCountryError,
    from_alpha2,
    is_known,
    is_mainland_china,
    normalize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("D", "D"), ("DEU", "D"), ("D<<", "D"), ("gbr", "GBR"), ("GBN", "GBN"), ("UTO", "UTO"),
     ("XXA", "XXA"), ("HKG", "HKG"), ("NOR", "NOR")],
)  # fmt: skip
def test_normalize_accepts_icao_codes(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "ZZZ", "DE", "QQ", "GERMANY", "U T O"])
def test_unknown_codes_are_a_clear_error(raw: str) -> None:
    with pytest.raises(UnknownCountryError, match="unknown country"):
        normalize(raw)
    assert not is_known(raw)


def test_alpha2_from_airport_tables_maps_to_icao() -> None:
    assert from_alpha2("DE") == "D"
    assert from_alpha2("jp") == "JPN"
    assert from_alpha2("HK") == "HKG"
    with pytest.raises(UnknownCountryError):
        from_alpha2("XX")


def test_regions_are_not_mainland_china() -> None:
    assert is_mainland_china("CHN")
    assert not any(is_mainland_china(r) for r in REGIONS)
