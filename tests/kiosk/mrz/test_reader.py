"""The reader on rendered data pages of each condition (TD3 passports and TD1 cards)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from kiosk.mrz.reader import read_mrz
from tests.kiosk.mrz.conftest import sample

SEEDS = range(7000, 7010)


def _kind(seed: int) -> str:
    return "TD1" if seed % 4 == 0 else "TD3"


@pytest.mark.parametrize("condition", ["clean", "degraded", "camera"])
def test_reads_rendered_pages(condition: str) -> None:
    right = 0
    for seed in SEEDS:
        s = sample(seed, condition, _kind(seed))
        result = read_mrz(s.image)
        correct = list(result.lines) == s.truth["mrz_lines"]
        assert not (result.valid and not correct), f"wrong but valid: seed {seed}"
        right += result.valid and correct
    assert right >= len(SEEDS) - 1  # the benchmark asks 95-99.5%; one miss in ten tolerated


def test_fields_match_truth() -> None:
    s = sample(7001, "clean", "TD3")
    result = read_mrz(s.image, today=date(2026, 1, 1))
    fields = s.truth["fields"]
    assert result.valid, result.errors
    assert result.format == "TD3"
    name_field = s.truth["mrz_lines"][0][5:].rstrip("<")
    surname, _, given = name_field.partition("<<")
    assert result.surname == surname.replace("<", " ")
    assert result.given_names == given.replace("<", " ")
    assert result.document_number == fields["document_number"]
    assert result.birth_date == date.fromisoformat(fields["birth_date"])
    assert result.expiry_date == date.fromisoformat(fields["expiry_date"])
    assert result.names_unprotected is True
    assert result.confidence["document_number"] > 0.5


def test_td1_card() -> None:
    s = sample(7100, "degraded", "TD1")
    result = read_mrz(s.image)
    assert result.format == "TD1"
    assert list(result.lines) == s.truth["mrz_lines"]
    assert result.valid


def test_upside_down_page() -> None:
    s = sample(7002, "clean", "TD3")
    result = read_mrz(np.ascontiguousarray(s.image[::-1, ::-1]))
    assert list(result.lines) == s.truth["mrz_lines"]
    assert result.valid


def test_page_without_mrz_side() -> None:
    from hardware_mocks.document_page import render_sample

    front = render_sample(7003, "clean", "TD1", side="front")  # the card's front: no MRZ
    result = read_mrz(front.image)
    assert result.valid is False
    assert result.format is None


def test_faint_last_glyph_still_located_and_read() -> None:
    # the last filler of line 1 too faint for the locator's ink threshold (as under glare):
    # the line is found one cell short, numbered from line 2, and the classifier still reads it
    s = sample(7011, "clean", "TD3")
    image = s.image.astype(np.float32)
    quad = np.array(s.truth["mrz_line_quads"][0])
    n = 44
    x0 = int(quad[0][0] + (quad[1][0] - quad[0][0]) * (n - 1) / n)
    x1, y0, y1 = int(quad[1][0]) + 1, int(quad[0][1]), int(quad[3][1]) + 1
    cell = image[y0:y1, x0:x1]
    cell[:] = 250 - (250 - cell) * 0.12
    result = read_mrz(image.astype(np.uint8))
    assert list(result.lines) == s.truth["mrz_lines"]
    assert result.valid
