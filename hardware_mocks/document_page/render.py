"""Render a TD3 passport data page or a TD1 card side at a given resolution.

The layout follows ICAO Doc 9303 parts 4 and 5 (see :mod:`.geometry`): the MRZ in OCR-B at the
nominal capital height, each character centred in its 2.54 mm cell, its capitals centred on the
reference centre line of its code line; the visual zone in DejaVu Sans with bilingual captions;
the portrait in Zone V; a seeded guilloche background. The same document always renders the same
page (the design is seeded by the document itself).
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from hardware_mocks.document_page import fonts
from hardware_mocks.document_page.background import security_background
from hardware_mocks.document_page.data import PageData, viz_date
from hardware_mocks.document_page.geometry import (
    GEOMETRIES,
    MRZ_PITCH_MM,
    OCRB_CAP_HEIGHT_MM,
    DocumentGeometry,
    Side,
    mm_to_px,
)
from hardware_mocks.interfaces import RGBImage

INK = (22, 22, 28)
CAPTION_INK = (58, 66, 104)
SIGNATURE_INK = (20, 40, 120)
SILHOUETTE_BACKGROUND = (222, 228, 236)
SILHOUETTE_FILL = (150, 158, 170)


def default_side(document: PageData) -> Side:
    """The side that carries the MRZ: the TD3 data page, the back of a TD1 card."""
    return GEOMETRIES[document.kind].mrz_side


def render_page(
    document: PageData,
    *,
    dpi: int = 300,
    photo: RGBImage | None = None,
    side: Side | None = None,
) -> RGBImage:
    """The document at ``dpi`` as an H x W x 3 RGB array, at its physical size.

    ``photo``: the holder's portrait (any size; centre-cropped to the 5:6 portrait box), or None
    for a plain silhouette. ``side``: a TD3 data page has only the front; a TD1 card's front
    has the portrait and the personal data, its back (the default, the side a reader reads)
    Zone VI and the three-line MRZ.
    """
    image = render_page_image(document, dpi=dpi, photo=photo, side=side)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def render_page_image(
    document: PageData,
    *,
    dpi: int = 300,
    photo: RGBImage | None = None,
    side: Side | None = None,
) -> Image.Image:
    """:func:`render_page` as a Pillow image."""
    if dpi < 100:
        raise ValueError(f"dpi {dpi} too low to print an MRZ")
    geometry = GEOMETRIES[document.kind]
    side = side or default_side(document)
    if document.kind == "TD3" and side != "front":
        raise ValueError("a TD3 data page has only a front side")
    if len(document.mrz_lines) != geometry.mrz.lines:
        raise ValueError(f"{document.kind} needs {geometry.mrz.lines} MRZ lines")
    page = _Page(geometry, dpi, random.Random(f"{document.issuing_state}|{document.kind}|design"))
    rng = random.Random(f"{document.document_number}|{document.surname}|personal")
    if document.kind == "TD3":
        page.background(mrz=True)
        _td3_front(page, document, photo, rng)
        page.mrz(document.mrz_lines)
    elif side == "front":
        page.background(mrz=False)
        _td1_front(page, document, photo, rng)
    else:
        page.background(mrz=True)
        _td1_back(page, document)
        page.mrz(document.mrz_lines)
    return page.image


class _Page:
    """Drawing helpers in millimetres."""

    def __init__(self, geometry: DocumentGeometry, dpi: int, design: random.Random) -> None:
        self.geometry = geometry
        self.dpi = dpi
        self.design = design
        self.size = geometry.size_px(dpi)
        self.image = Image.new("RGB", self.size, (250, 250, 248))
        self.draw = ImageDraw.Draw(self.image)

    def px(self, mm: float) -> float:
        return mm_to_px(mm, self.dpi)

    def background(self, *, mrz: bool) -> None:
        g = self.geometry
        faint = round(self.px(g.height_mm - g.mrz.zone_height_mm)) if mrz else None
        centre = (self.px(g.width_mm * 0.62), self.px(g.height_mm * 0.42))
        self.image = security_background(
            self.size,
            self.dpi,
            self.design,
            rosette_centre=centre,
            rosette_radius=self.px(g.height_mm * 0.33),
            faint_below=faint,
        )
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self,
        x_mm: float,
        baseline_mm: float,
        text: str,
        cap_mm: float,
        *,
        bold: bool = False,
        fill: tuple[int, int, int] = INK,
        max_width_mm: float | None = None,
        anchor: str = "ls",
    ) -> None:
        """``text`` with its capitals ``cap_mm`` tall, shrunk to ``max_width_mm`` if given."""
        path = fonts.SANS_BOLD if bold else fonts.SANS
        font = fonts.font_for_cap_height(path, cap_mm, self.dpi)
        if max_width_mm is not None:
            width = font.getlength(text)
            limit = self.px(max_width_mm)
            if width > limit:
                condensed = fonts.SANS_CONDENSED_BOLD if bold else fonts.SANS_CONDENSED
                scale = max(0.5, limit / width * 1.1)
                font = fonts.font_for_cap_height(condensed, round(cap_mm * scale, 2), self.dpi)
                while font.getlength(text) > limit and scale > 0.5:
                    scale *= 0.95
                    font = fonts.font_for_cap_height(condensed, round(cap_mm * scale, 2), self.dpi)
        self.draw.text(
            (self.px(x_mm), self.px(baseline_mm)), text, font=font, fill=fill, anchor=anchor
        )

    def field(
        self,
        x_mm: float,
        top_mm: float,
        caption: str,
        value: str,
        *,
        caption_mm: float,
        value_mm: float,
        width_mm: float,
        bold: bool = False,
    ) -> None:
        """A caption and its value below it."""
        self.text(x_mm, top_mm + caption_mm, caption, caption_mm, fill=CAPTION_INK)
        baseline = top_mm + caption_mm + 0.9 + value_mm
        self.text(x_mm, baseline, value, value_mm, bold=bold, max_width_mm=width_mm)

    def portrait(self, photo: RGBImage | None) -> None:
        left, top, right, bottom = self.geometry.photo_box_mm
        box = (
            round(self.px(left)),
            round(self.px(top)),
            round(self.px(right)),
            round(self.px(bottom)),
        )
        size = (box[2] - box[0], box[3] - box[1])
        picture = silhouette(size) if photo is None else fit_portrait(photo, size)
        self.image.paste(picture, box[:2])

    def signature(self, box_mm: tuple[float, float, float, float], rng: random.Random) -> None:
        """A seeded pen stroke: a few smooth loops left to right."""
        left, top, right, bottom = (self.px(v) for v in box_mm)
        n = 160
        t = np.linspace(0.0, 1.0, n)
        height = bottom - top
        ys = top + height * (
            0.5
            + 0.25 * np.sin(2 * math.pi * (t * rng.uniform(2.5, 5) + rng.random()))
            + 0.12 * np.sin(2 * math.pi * (t * rng.uniform(7, 12)))
        )
        xs = left + (right - left) * (t + 0.04 * np.sin(2 * math.pi * t * rng.uniform(6, 10)))
        width = max(1, round(self.px(0.3)))
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        self.draw.line(points, fill=SIGNATURE_INK, width=width, joint="curve")

    def mrz(self, lines: tuple[str, ...]) -> None:
        """Each character centred in its 2.54 mm cell, capitals centred on the centre line."""
        g = self.geometry
        font = fonts.ocrb(OCRB_CAP_HEIGHT_MM, self.dpi)
        _, cap_top, _, cap_bottom = font.getbbox("H", anchor="ls")
        cap_px = cap_bottom - cap_top
        pitch = self.px(MRZ_PITCH_MM)
        for index, line in enumerate(lines):
            baseline = self.px(g.mrz_line_centre_y_mm(index)) + cap_px / 2
            for column, char in enumerate(line):
                cell_left = self.px(g.mrz_cell_left_mm(column))
                x = cell_left + (pitch - font.getlength(char)) / 2
                self.draw.text((x, baseline), char, font=font, fill=INK, anchor="ls")


def fit_portrait(photo: RGBImage, size: tuple[int, int]) -> Image.Image:
    """``photo`` centre-cropped to the aspect of ``size`` and resized to it."""
    image = Image.fromarray(np.asarray(photo, dtype=np.uint8), "RGB")
    w, h = image.size
    target = size[0] / size[1]
    if w / h > target:
        new_w = round(h * target)
        image = image.crop(((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h))
    else:
        new_h = round(w / target)
        image = image.crop((0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h))
    return image.resize(size, Image.Resampling.LANCZOS)


def silhouette(size: tuple[int, int]) -> Image.Image:
    """A plain head-and-shoulders silhouette on a light background (no photo available)."""
    w, h = size
    image = Image.new("RGB", size, SILHOUETTE_BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.ellipse((0.30 * w, 0.16 * h, 0.70 * w, 0.62 * h), fill=SILHOUETTE_FILL)
    draw.ellipse((0.08 * w, 0.66 * h, 0.92 * w, 1.35 * h), fill=SILHOUETTE_FILL)
    draw.rectangle((0.42 * w, 0.55 * h, 0.58 * w, 0.72 * h), fill=SILHOUETTE_FILL)
    return image


def _sex(document: PageData) -> str:
    return document.sex if document.sex in ("M", "F") else "X"


def _td3_front(page: _Page, document: PageData, photo: RGBImage | None, rng: random.Random) -> None:
    w = page.geometry.width_mm
    page.text(
        w / 2, 6.0, document.issuing_state_name, 2.6, bold=True, anchor="ms", max_width_mm=118
    )
    page.text(w / 2, 9.9, "PASSPORT / PASSEPORT / PASAPORTE", 1.6, fill=CAPTION_INK, anchor="ms")
    page.portrait(photo)
    left, _, right, bottom = page.geometry.photo_box_mm
    page.text(
        left, bottom + 2.4, "Holder's signature / Signature du titulaire", 0.95, fill=CAPTION_INK
    )
    page.signature((left + 2, bottom + 3.4, right - 1, bottom + 11.5), rng)

    a, code_x, b = 39.5, 54.7, 82.5
    row = 6.35  # Doc 9303-4 Figure 7: "Z = 6.35"
    top = 12.3
    cap, val = 1.05, 2.1
    rows: list[list[tuple[float, str, str, float, bool]]] = [
        [
            (a, "Type / Type", document.document_code, 14, False),
            (code_x, "Code / Code", document.issuing_state, 26, False),
            (b, "Passport No. / N° du passeport", document.document_number, 40, True),
        ],
        [(a, "Surname / Nom", document.surname, 83, True)],
        [(a, "Given names / Prénoms", document.given_names, 83, True)],
        [(a, "Nationality / Nationalité", document.nationality_name, 83, False)],
        [
            (a, "Date of birth / Date de naissance", viz_date(document.birth_date), 42, False),
            (b, "Personal No. / N° personnel", document.personal_number, 40, False),
        ],
        [
            (a, "Sex / Sexe", _sex(document), 14, False),
            (code_x, "Place of birth / Lieu de naissance", document.place_of_birth, 67, False),
        ],
        [
            (a, "Date of issue / Date de délivrance", viz_date(document.issue_date), 42, False),
            (b, "Authority / Autorité", document.authority, 40, False),
        ],
        [(a, "Date of expiry / Date d'expiration", viz_date(document.expiry_date), 42, False)],
    ]
    for i, fields in enumerate(rows):
        for x, caption, value, width, bold in fields:
            page.field(
                x, top + i * row, caption, value, caption_mm=cap, value_mm=val, width_mm=width,
                bold=bold,
            )  # fmt: skip


def _td1_front(page: _Page, document: PageData, photo: RGBImage | None, rng: random.Random) -> None:
    w = page.geometry.width_mm
    page.text(w / 2, 4.6, document.issuing_state_name, 2.0, bold=True, anchor="ms", max_width_mm=80)
    page.text(w / 2, 8.4, "IDENTITY CARD / CARTE D'IDENTITÉ", 1.3, fill=CAPTION_INK, anchor="ms")
    page.portrait(photo)
    x, row, top = 32.5, 5.4, 11.3
    cap, val = 0.85, 1.75
    rows: list[list[tuple[float, str, str, float, bool]]] = [
        [(x, "Surname / Nom", document.surname, 50, True)],
        [(x, "Given names / Prénoms", document.given_names, 50, True)],
        [
            (x, "Date of birth", viz_date(document.birth_date), 20, False),
            (x + 21.5, "Sex", _sex(document), 5, False),
            (x + 28.0, "Nationality", document.nationality_name, 22, False),
        ],
        [
            (x, "Document No.", document.document_number, 20, True),
            (x + 21.5, "Date of expiry", viz_date(document.expiry_date), 28, False),
        ],
    ]
    for i, fields in enumerate(rows):
        for fx, caption, value, width, bold in fields:
            page.field(
                fx, top + i * row, caption, value, caption_mm=cap, value_mm=val, width_mm=width,
                bold=bold,
            )  # fmt: skip
    sig_top = top + len(rows) * row + 0.6
    page.text(x, sig_top + 0.9, "Signature / Signature", cap, fill=CAPTION_INK)
    page.signature((x + 2, sig_top + 1.8, x + 30, sig_top + 9.5), rng)


def _td1_back(page: _Page, document: PageData) -> None:
    x, row, top = 4.0, 5.4, 3.0
    cap, val = 0.85, 1.75
    rows: list[list[tuple[float, str, str, float, bool]]] = [
        [(x, "Place of birth / Lieu de naissance", document.place_of_birth, 76, False)],
        [
            (x, "Date of issue / Date de délivrance", viz_date(document.issue_date), 34, False),
            (x + 38, "Personal No. / N° personnel", document.personal_number, 38, False),
        ],
        [(x, "Authority / Autorité", document.authority, 76, False)],
    ]
    for i, fields in enumerate(rows):
        for fx, caption, value, width, bold in fields:
            page.field(
                fx, top + i * row, caption, value, caption_mm=cap, value_mm=val, width_mm=width,
                bold=bold,
            )  # fmt: skip
