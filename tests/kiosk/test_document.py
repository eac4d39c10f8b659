from __future__ import annotations

from datetime import date

import pytest
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td2 import TD2CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from kiosk.document import MRZParseError, birth_date_from_mrz, expiry_date_from_mrz, parse_mrz

TODAY = date(2025, 6, 1)
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def td3(**overrides: str) -> tuple[str, ...]:
    args = {
        "document_type": "P",
        "country_code": "D",
        "surname": "Mustermann",
        "given_names": "Erika Anna",
        "document_number": "C01X00T47",
        "nationality": "D",
        "birth_date": "640812",
        "sex": "F",
        "expiry_date": "310101",
        "optional_data": "",
    }
    args.update(overrides)
    return tuple(str(TD3CodeGenerator(**args)).split("\n"))


@pytest.mark.parametrize(
    ("nationality", "number", "birth", "expiry", "optional"),
    [
        ("CHN", "E12345678", "920229", "340315", ""),
        ("USA", "A1B2C3D4E", "010101", "270101", "ZE184226B"),
        ("JPN", "TK1234567", "551231", "300630", ""),
    ],
)
def test_td3_round_trip(
    nationality: str, number: str, birth: str, expiry: str, optional: str
) -> None:
    lines = td3(
        country_code=nationality,
        nationality=nationality,
        document_number=number,
        birth_date=birth,
        expiry_date=expiry,
        optional_data=optional,
    )
    doc = parse_mrz(lines, TODAY)
    assert doc.document_type == "P"
    assert doc.issuing_state == nationality
    assert doc.nationality == nationality
    assert doc.document_number == number
    assert doc.surname == "MUSTERMANN"
    assert doc.given_names == "ERIKA ANNA"
    assert doc.birth_date.strftime("%y%m%d") == birth
    assert doc.birth_date <= TODAY
    assert doc.expiry_date.strftime("%y%m%d") == expiry
    assert doc.expiry_date.year >= 2025
    assert doc.sex == "F"
    assert doc.check_digits_valid is True
    assert doc.chip_authenticated is None


def test_icao_specimen() -> None:
    doc = parse_mrz(SPECIMEN, TODAY)
    assert doc.check_digits_valid
    assert doc.birth_date == date(1974, 8, 12)
    assert doc.expiry_date == date(2012, 4, 15)  # long expired: last decade, not 2112
    assert (doc.surname, doc.given_names) == ("ERIKSSON", "ANNA MARIA")


@pytest.mark.parametrize(
    "position",
    [9, 19, 27, 42, 43],
    ids=["document", "birth", "expiry", "optional", "composite"],
)
def test_forged_check_digit(position: int) -> None:
    line1, line2 = SPECIMEN
    forged = line2[:position] + str((int(line2[position]) + 1) % 10) + line2[position + 1 :]
    doc = parse_mrz((line1, forged), TODAY)
    assert doc.check_digits_valid is False


def test_forged_data_with_original_digits() -> None:
    line1, line2 = td3()
    altered = line2[:3] + ("9" if line2[3] != "9" else "8") + line2[4:]  # document number changed
    assert parse_mrz((line1, altered), TODAY).check_digits_valid is False


def test_td1_and_td2() -> None:
    td1 = str(
        TD1CodeGenerator("I", "FRA", "X1234567", "850101", "M", "300101", "FRA", "Dupont", "Jean")
    ).split("\n")
    td2 = str(
        TD2CodeGenerator("I", "FRA", "Dupont", "Jean", "X1234567", "FRA", "850101", "M", "300101")
    ).split("\n")
    for lines in (td1, td2):
        doc = parse_mrz(lines, TODAY)
        assert (doc.document_type, doc.nationality, doc.surname) == ("I", "FRA", "DUPONT")
        assert doc.birth_date == date(1985, 1, 1)
        assert doc.expiry_date == date(2030, 1, 1)
        assert doc.check_digits_valid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("250601", date(2025, 6, 1)),  # born today
        ("250602", date(1925, 6, 2)),  # tomorrow in this century: last century
        ("051231", date(2005, 12, 31)),
        ("300101", date(1930, 1, 1)),
        ("991231", date(1999, 12, 31)),
    ],
)
def test_birth_century(raw: str, expected: date) -> None:
    assert birth_date_from_mrz(raw, TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("350101", date(2035, 1, 1)),
        ("450601", date(2045, 6, 1)),  # the 20-year horizon
        ("450602", date(1945, 6, 2)),
        ("240101", date(2024, 1, 1)),  # recently expired
        ("991231", date(1999, 12, 31)),
    ],
)
def test_expiry_century(raw: str, expected: date) -> None:
    assert expiry_date_from_mrz(raw, TODAY) == expected


def test_century_follows_today() -> None:
    assert birth_date_from_mrz("010101", date(2101, 6, 1)) == date(2101, 1, 1)
    assert expiry_date_from_mrz("050101", date(2099, 6, 1)) == date(2105, 1, 1)


@pytest.mark.parametrize(
    "lines",
    [
        (),
        ("P<UTOERIKSSON",),
        (SPECIMEN[0], SPECIMEN[1][:-1]),  # one character short
        (SPECIMEN[0], SPECIMEN[1][:13] + "74O812" + SPECIMEN[1][19:]),  # OCR O for 0
        (SPECIMEN[0], SPECIMEN[1][:13] + "741332" + SPECIMEN[1][19:]),  # month 13
        (SPECIMEN[0], SPECIMEN[1][:20] + "Q" + SPECIMEN[1][21:]),  # sex
        (SPECIMEN[0].replace("ERIKSSON", "ERIK55ON"), SPECIMEN[1]),  # digits in the name
        (SPECIMEN[0], SPECIMEN[1].replace("L898902C3", "L8989#2C3")),
        ("<" * 44, SPECIMEN[1]),
    ],
)
def test_unreadable(lines: tuple[str, ...]) -> None:
    with pytest.raises(MRZParseError):
        parse_mrz(lines, TODAY)


def test_lowercase_and_spaces_are_normalised() -> None:
    doc = parse_mrz([" " + SPECIMEN[0].lower() + " ", SPECIMEN[1]], TODAY)
    assert doc.surname == "ERIKSSON"
