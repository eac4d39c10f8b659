"""PageData: MRZ lines from the ``mrz`` generators, consistent with the printed fields."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td3 import TD3CodeChecker

from hardware_mocks.document_page import PageData
from hardware_mocks.document_page.data import fit_mrz_name, mrz_name_parts, viz_date
from hardware_mocks.document_page.geometry import DocumentKind
from hardware_mocks.travellers import PopulationMix, TravellerFactory


def check(kind: DocumentKind, lines: tuple[str, ...] | list[str]) -> bool:
    checker = TD3CodeChecker if kind == "TD3" else TD1CodeChecker
    return bool(checker("\n".join(lines)))


@pytest.mark.parametrize("kind", ["TD3", "TD1"])
def test_random_documents_pass_the_mrz_checker_and_match_their_fields(kind: DocumentKind) -> None:
    rng = random.Random(42)
    for _ in range(300):
        doc = PageData.random(rng, kind)
        length = 44 if kind == "TD3" else 30
        assert [len(line) for line in doc.mrz_lines] == [length] * (2 if kind == "TD3" else 3)
        assert check(kind, doc.mrz_lines), doc.mrz_lines
        text = "".join(doc.mrz_lines)
        assert doc.document_number in text
        assert f"{doc.birth_date:%y%m%d}" in text
        assert f"{doc.expiry_date:%y%m%d}" in text
        assert doc.birth_date < doc.issue_date < doc.expiry_date
        name_line = doc.mrz_lines[0][5:] if kind == "TD3" else doc.mrz_lines[2]
        assert name_line.startswith("<".join(mrz_name_parts(doc.surname))[: len(name_line)][:10])


def test_a_corrupted_line_fails_the_checker() -> None:
    doc = PageData.random(random.Random(1), "TD3")
    line2 = doc.mrz_lines[1]
    wrong = str((int(line2[9]) + 1) % 10)
    assert not check("TD3", [doc.mrz_lines[0], line2[:9] + wrong + line2[10:]])


def test_long_names_are_truncated_in_the_mrz_only() -> None:
    surname, given = fit_mrz_name("MEYER-LÜDENSCHEIDT", "ALEXANDER WILLIAM GEORGE", 30)
    assert surname == "MEYER LUEDENSCHEIDT"  # transliterated before fitting: Ü is UE
    assert given == "ALEXANDER"
    # The "<<" separator is written even without given names, so it counts against the limit.
    assert fit_mrz_name("LÜDENSCHEIDT-SCHMIDT", "ANNA", 12) == ("LUEDENSCHE", "")
    assert fit_mrz_name("A" * 29, "", 30) == ("A" * 28, "")
    doc = PageData.build(
        kind="TD1",
        issuing_state="D",
        document_number="L01X00T47",
        surname="Meyer-Lüdenscheidt",
        given_names="Alexander William George",
        nationality="D",
        birth_date=date(1974, 8, 12),
        sex="M",
        expiry_date=date(2031, 4, 15),
    )
    assert doc.mrz_lines[2] == "MEYER<LUEDENSCHEIDT<<ALEXANDER"
    assert doc.surname == "Meyer-Lüdenscheidt"  # the visual zone keeps the full name
    assert check("TD1", doc.mrz_lines)
    assert doc.issue_date == date(2021, 4, 16)


def test_names_follow_the_punctuation_rules() -> None:
    assert mrz_name_parts("O'Connor") == ["OCONNOR"]
    assert mrz_name_parts("Marie-Elise") == ["MARIE", "ELISE"]
    assert viz_date(date(1974, 8, 12)) == "12 AUG 1974"


def test_from_traveller_keeps_the_mrz_exactly_even_forged() -> None:
    factory = TravellerFactory(
        seed=3, faces_dir=Path("/nonexistent"), mix=PopulationMix(forged_check_digit=0.5)
    )
    travellers = factory.generate(20)
    assert any(t.forged for t in travellers)
    for traveller in travellers:
        doc = PageData.from_traveller(traveller, today=date(2025, 6, 1))
        assert doc.mrz_lines == traveller.mrz_lines
        assert doc.document_number == traveller.document_number
        assert doc.surname == traveller.surname
        assert doc.nationality == traveller.nationality
        assert f"{doc.birth_date:%y%m%d}" == traveller.mrz_lines[1][13:19]
        assert check("TD3", doc.mrz_lines) == (not traveller.forged)
        assert PageData.from_traveller(traveller, today=date(2025, 6, 1)) == doc  # seeded
