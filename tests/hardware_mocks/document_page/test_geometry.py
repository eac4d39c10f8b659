"""Page size, MRZ pitch and line positions measured on the rendered pixels (Doc 9303 parts 4/5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest

from hardware_mocks.document_page import (
    GEOMETRIES,
    MRZ_PITCH_MM,
    render_page,
    silhouette,
)
from hardware_mocks.document_page.geometry import DocumentKind, Side
from tests.hardware_mocks.document_page.conftest import document, h_document, ink

MM = 25.4


def runs(mask_1d: npt.ArrayLike) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    padded = np.concatenate([[False], np.asarray(mask_1d, dtype=bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


@pytest.mark.parametrize(
    ("kind", "side", "dpi", "size_mm"),
    [
        ("TD3", "front", 300, (125.0, 88.0)),
        ("TD3", "front", 400, (125.0, 88.0)),
        ("TD1", "front", 300, (85.6, 53.98)),
        ("TD1", "back", 400, (85.6, 53.98)),
    ],
)
def test_image_size_is_the_physical_size_at_the_dpi(
    kind: DocumentKind, side: Side, dpi: int, size_mm: tuple[float, float]
) -> None:
    image = render_page(document(kind), dpi=dpi, side=side)
    h, w, channels = image.shape
    assert channels == 3
    assert image.dtype == np.uint8
    assert abs(w - size_mm[0] / MM * dpi) <= 0.5
    assert abs(h - size_mm[1] / MM * dpi) <= 0.5


# Doc 9303 values, written out here so that a wrong constant in the package fails the test:
# (first character's left edge, line centres above the bottom edge, printing zone height, lines).
SPEC = {
    "TD3": (6.0, (15.75, 9.40), 4.3, 44),
    "TD1": (5.0, (15.73, 11.50, 7.27), 2.95, 30),
}


@pytest.mark.parametrize(("kind", "dpi"), [("TD3", 300), ("TD3", 400), ("TD1", 300), ("TD1", 400)])
def test_mrz_pitch_position_and_character_height(kind: DocumentKind, dpi: int) -> None:
    geometry = GEOMETRIES[kind]
    first_left, centres_from_bottom, zone_height, chars = SPEC[kind]
    assert geometry.mrz.chars_per_line == chars
    assert MRZ_PITCH_MM == 2.54
    image = render_page(h_document(kind), dpi=dpi)
    mask = ink(image)
    px = dpi / MM
    for index in range(len(centres_from_bottom)):
        centre_mm = geometry.height_mm - centres_from_bottom[index]
        half_zone = zone_height / 2
        band = mask[round((centre_mm - half_zone) * px) : round((centre_mm + half_zone) * px)]
        # vertical: the capitals are centred on the reference centre line, at the nominal height
        rows = np.flatnonzero(band.any(axis=1))
        top, bottom = rows[0], rows[-1] + 1
        measured_centre_mm = (round((centre_mm - half_zone) * px) + (top + bottom) / 2) / px
        assert measured_centre_mm == pytest.approx(centre_mm, abs=0.15)
        assert (bottom - top) / px == pytest.approx(2.46, abs=0.15)  # OCR-B size I capitals
        # horizontal: each H is one run of ink columns (stems joined by the bar)
        glyphs = runs(band.any(axis=0))
        assert len(glyphs) == geometry.mrz.chars_per_line
        centres = [(start + end) / 2 for start, end in glyphs]
        pitch_px, first_centre_px = np.polyfit(np.arange(len(centres)), centres, 1)
        assert pitch_px / px == pytest.approx(2.54, rel=0.005)
        first_cell_left_mm = first_centre_px / px - 2.54 / 2
        assert first_cell_left_mm == pytest.approx(first_left, abs=0.15)
        # the last character ends inside the document with the 2 mm margin to spare
        assert glyphs[-1][1] / px < geometry.width_mm - 2.0


@pytest.mark.parametrize("kind", ["TD3", "TD1"])
def test_real_mrz_ink_stays_inside_the_printing_zones(kind: DocumentKind) -> None:
    geometry = GEOMETRIES[kind]
    dpi = 300
    px = dpi / MM
    image = render_page(document(kind, seed=5), dpi=dpi)
    mask = ink(image)
    zone_top = round((geometry.height_mm - geometry.mrz.zone_height_mm) * px)
    inside = np.zeros_like(mask)
    for index in range(geometry.mrz.lines):
        left, top, right, bottom = geometry.mrz_line_box_mm(index)
        inside[round(top * px) : round(bottom * px), round(left * px) : round(right * px)] = True
    mrz_ink = mask[zone_top:]
    assert mrz_ink.sum() > 1000
    assert not (mrz_ink & ~inside[zone_top:]).any()


def test_td3_and_td1_layouts_differ() -> None:
    """TD3: 2 MRZ lines on the data page; TD1: 3 lines on the back, none on the front."""

    def mrz_line_count(kind: DocumentKind, side: Side) -> int:
        geometry = GEOMETRIES[kind]
        image = render_page(document(kind), dpi=300, side=side)
        zone_top = round((geometry.height_mm - geometry.mrz.zone_height_mm) * 300 / MM)
        rows = ink(image)[zone_top:].any(axis=1)
        return len([r for r in runs(rows) if r[1] - r[0] > 10])

    assert mrz_line_count("TD3", "front") == 2
    assert mrz_line_count("TD1", "back") == 3

    def looks_like_silhouette(kind: DocumentKind, side: Side) -> bool:
        geometry = GEOMETRIES[kind]
        left, top, right, bottom = (round(v * 300 / MM) for v in geometry.photo_box_mm)
        region = render_page(document(kind), dpi=300, side=side)[top:bottom, left:right]
        expected = np.asarray(silhouette((right - left, bottom - top)))
        return float(np.abs(region.astype(int) - expected).mean()) < 1.0

    assert looks_like_silhouette("TD3", "front")
    assert looks_like_silhouette("TD1", "front")
    assert not looks_like_silhouette("TD1", "back")  # the portrait is on the front of a card
    td3, td1 = render_page(document("TD3")), render_page(document("TD1"))
    assert td3.shape[1] / td3.shape[0] == pytest.approx(125 / 88, rel=0.01)
    assert td1.shape[1] / td1.shape[0] == pytest.approx(85.6 / 53.98, rel=0.01)


def test_td3_has_no_back_side_and_line_count_is_checked() -> None:
    with pytest.raises(ValueError, match="front"):
        render_page(document("TD3"), side="back")
    doc = document("TD1")
    with pytest.raises(ValueError, match="3 MRZ lines"):
        render_page(dataclasses.replace(doc, mrz_lines=doc.mrz_lines[:2]))
