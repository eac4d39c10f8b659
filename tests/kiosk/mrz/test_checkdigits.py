"""Check digits and field decoding against ICAO's specimen, with the mrz package as the oracle."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td2 import TD2CodeChecker
from mrz.checker.td3 import TD3CodeChecker
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td2 import TD2CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from kiosk.mrz.reader import MRZRead, _result
from kiosk.mrz.repair import TD1, TD2, TD3, decode
from tests.kiosk.mrz.conftest import SPECIMEN, one_hot

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TODAY = date(2025, 6, 1)


def test_specimen_check_digits_pass() -> None:
    text = "".join(SPECIMEN)
    assert [c.name for c in TD3.checks if not c.ok(text)] == []
    decoded = decode(one_hot(SPECIMEN), TD3)
    assert decoded.lines == list(SPECIMEN)
    assert decoded.checks_ok
    assert decoded.errors == ()
    assert decoded.repairs == ()


def test_specimen_fields_in_layout() -> None:
    text = "".join(SPECIMEN)
    got = {name: text[s:e] for name, (s, e) in TD3.fields.items()}
    assert got["document_number"] == "L898902C3"
    assert got["issuing_state"] == "UTO"
    assert got["nationality"] == "UTO"
    assert got["birth_date"] == "740812"
    assert got["sex"] == "F"
    assert got["expiry_date"] == "120415"
    assert got["optional_data"] == "ZE184226B<<<<<"


def test_each_specimen_check_digit_is_checked() -> None:
    text = "".join(SPECIMEN)
    for check in TD3.checks:
        digit = text[check.digit]
        wrong = str((int(digit) + 1) % 10)
        broken = text[: check.digit] + wrong + text[check.digit + 1 :]
        failing = [c.name for c in TD3.checks if not c.ok(broken)]
        assert check.name in failing


digits6 = st.text("0123456789", min_size=6, max_size=6)
dates = st.dates(date(1930, 1, 1), date(2035, 12, 31)).map(lambda d: d.strftime("%y%m%d"))
numbers = st.text(ALNUM, min_size=1, max_size=9)


@settings(max_examples=150, deadline=None)
@given(number=numbers, birth=dates, expiry=dates, optional=st.text(ALNUM, max_size=14))
def test_td3_checks_agree_with_mrz_package(
    number: str, birth: str, expiry: str, optional: str
) -> None:
    lines = str(
        TD3CodeGenerator(
            "P", "UTO", "Eriksson", "Anna", number, "UTO", birth, "F", expiry, optional
        )
    ).split("\n")
    text = "".join(lines)
    assert all(c.ok(text) for c in TD3.checks)
    assert TD3CodeChecker("\n".join(lines), check_expiry=False)._all_hashes()


@settings(max_examples=200, deadline=None)
@given(
    number=numbers,
    birth=dates,
    expiry=dates,
    position=st.integers(44, 87),
    replacement=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"),
)
def test_td3_corruption_detected_like_mrz_package(
    number: str, birth: str, expiry: str, position: int, replacement: str
) -> None:
    lines = str(
        TD3CodeGenerator("P", "UTO", "Eriksson", "Anna", number, "UTO", birth, "F", expiry)
    ).split("\n")
    text = "".join(lines)
    corrupted = text[:position] + replacement + text[position + 1 :]
    ours = all(c.ok(corrupted) for c in TD3.checks)
    oracle = TD3CodeChecker(corrupted[:44] + "\n" + corrupted[44:], check_expiry=False)
    assert ours == bool(oracle._all_hashes())


@settings(max_examples=100, deadline=None)
@given(number=numbers, birth=dates, expiry=dates, optional=st.text(ALNUM, max_size=11))
def test_td1_checks_agree_with_mrz_package(
    number: str, birth: str, expiry: str, optional: str
) -> None:
    generated = TD1CodeGenerator(
        "I", "UTO", number, birth, "F", expiry, "UTO", "Eriksson", "Anna", optional_data2=optional
    )
    lines = str(generated).split("\n")
    text = "".join(lines)
    assert TD1CodeChecker("\n".join(lines), check_expiry=False)._all_hashes()
    assert [c.name for c in TD1.checks if not c.ok(text)] == []
    decoded = decode(one_hot(lines), TD1)
    assert decoded.lines == lines
    assert decoded.checks_ok


def _read(lines: list[str] | tuple[str, ...], today: date) -> MRZRead:
    layout = TD1 if len(lines) == 3 else TD3
    return _result(decode(one_hot(lines), layout), today)


def test_dates_get_the_right_century() -> None:
    result = _read(SPECIMEN, date(2026, 3, 1))
    assert result.valid, result.errors
    assert result.birth_date == date(1974, 8, 12)
    assert result.expiry_date == date(2012, 4, 15)  # recent past, not 2112
    lines = str(
        TD3CodeGenerator(
            "P", "UTO", "Eriksson", "Anna", "L898902C3", "UTO", "050101", "F", "340101"
        )
    ).split("\n")
    young = _read(lines, date(2026, 3, 1))
    assert young.birth_date == date(2005, 1, 1)
    assert young.expiry_date == date(2034, 1, 1)
    assert young.valid


def test_expiry_too_far_ahead_is_invalid() -> None:
    lines = str(
        TD3CodeGenerator(
            "P", "UTO", "Eriksson", "Anna", "L898902C3", "UTO", "740812", "F", "410101"
        )
    ).split("\n")
    result = _read(lines, date(2026, 3, 1))  # 2041: 15 years ahead, no passport runs that long
    assert not result.valid
    assert any("10 years" in e for e in result.errors)


def test_uncertain_name_makes_read_invalid_but_is_reported() -> None:
    probs = one_hot(SPECIMEN, alternatives={7: {"I": 0.6, "L": 0.39}})
    result = _result(decode(probs, TD3), date(2026, 3, 1))
    assert result.surname == "ERIKSSON"
    assert result.names_unprotected
    assert not result.valid
    assert any("names" in e for e in result.errors)


@settings(max_examples=100, deadline=None)
@given(
    number=numbers,
    birth=dates,
    expiry=dates,
    optional=st.text(ALNUM, max_size=7),
    position=st.integers(36, 71),
    replacement=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"),
)
def test_td2_checks_agree_with_mrz_package(
    number: str, birth: str, expiry: str, optional: str, position: int, replacement: str
) -> None:
    generated = TD2CodeGenerator(
        "I", "UTO", "Eriksson", "Anna", number, "UTO", birth, "F", expiry, optional
    )
    lines = str(generated).split("\n")
    text = "".join(lines)
    assert [c.name for c in TD2.checks if not c.ok(text)] == []
    assert decode(one_hot(lines), TD2).lines == lines
    corrupted = text[:position] + replacement + text[position + 1 :]
    ours = all(c.ok(corrupted) for c in TD2.checks)
    oracle = TD2CodeChecker(corrupted[:36] + "\n" + corrupted[36:], check_expiry=False)
    assert ours == bool(oracle._all_hashes())
