"""Physical layout of ICAO Doc 9303 data pages, in millimetres from the top-left corner.

Sources (ICAO Doc 9303, 8th edition, 2021):

* Part 3 section 4.4: the MRZ is OCR-B size 1 at a fixed pitch of 2.54 mm (10 characters per
  inch). OCR-B size I has a nominal capital height of 2.46 mm (ISO 1073-2).
* Part 4 (TD3, passports) section 2 and Figure 3: the data page is 125.0 x 88.0 mm; the MRZ is
  23.2 mm high from the bottom edge; the left edge of the first character is 6.0 +- 1.0 mm from
  the left edge; the reference centre lines of the upper and lower code lines are 15.75 mm and
  9.40 mm above the bottom edge (6.35 mm apart), each in a 4.3 mm printing zone (lower zone
  7.25-11.55 mm, upper zone 13.6-17.9 mm). Figure 7: the portrait (Zone V) lies along the left
  edge, at most 35 x 45 mm, at least 2.0 mm from the edge; the personal data rows are 6.35 mm
  apart.
* Part 5 (TD1, ID cards) sections 2.1 and 4.2.1, Figure 6: the card is 85.60 x 53.98 mm (ISO/IEC
  7810 ID-1); the MRZ (three lines of 30 characters) is on the back; the left edge of the first
  character is 5.0 +- 1.0 mm from the left edge; the lines are 4.23 mm apart (6 lines per inch)
  in 2.95 mm printing zones, the middle reference centre line 11.5 mm above the bottom edge (so
  15.73, 11.50 and 7.27 mm); the portrait (field 13/V) is 26-35 mm wide and 32-45 mm high along
  the left edge of the front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MM_PER_INCH = 25.4
MRZ_PITCH_MM = 2.54
"""Doc 9303-3 section 4.4: 10 characters per 25.4 mm."""
OCRB_CAP_HEIGHT_MM = 2.46
"""OCR-B size I nominal capital height (ISO 1073-2), the height the MRZ capitals are drawn at."""

DocumentKind = Literal["TD3", "TD1"]
Side = Literal["front", "back"]
Box = tuple[float, float, float, float]
"""(left, top, right, bottom)."""


def mm_to_px(mm: float, dpi: int) -> float:
    return mm * dpi / MM_PER_INCH


@dataclass(frozen=True, slots=True)
class MrzGeometry:
    lines: int
    chars_per_line: int
    first_char_left_mm: float
    """Left edge of the first character cell from the left edge of the document."""
    line_centres_from_bottom_mm: tuple[float, ...]
    """Reference centre line of each code line above the bottom edge, top line first."""
    printing_zone_height_mm: float
    zone_height_mm: float
    """Height of the whole MRZ (Zone VII) from the bottom edge."""


@dataclass(frozen=True, slots=True)
class DocumentGeometry:
    kind: DocumentKind
    width_mm: float
    height_mm: float
    mrz: MrzGeometry
    mrz_side: Side
    photo_box_mm: Box
    """The portrait on the front side."""

    def size_px(self, dpi: int) -> tuple[int, int]:
        """(width, height) of the rendered side at ``dpi``."""
        return round(mm_to_px(self.width_mm, dpi)), round(mm_to_px(self.height_mm, dpi))

    def mrz_line_centre_y_mm(self, index: int) -> float:
        """Reference centre line of code line ``index`` (0 = top) from the top edge."""
        return self.height_mm - self.mrz.line_centres_from_bottom_mm[index]

    def mrz_cell_left_mm(self, column: int) -> float:
        return self.mrz.first_char_left_mm + column * MRZ_PITCH_MM

    def mrz_line_box_mm(self, index: int) -> Box:
        """The printing zone of code line ``index``: the cells of the line, zone height tall."""
        centre = self.mrz_line_centre_y_mm(index)
        half = self.mrz.printing_zone_height_mm / 2
        left = self.mrz.first_char_left_mm
        return (left, centre - half, left + self.mrz.chars_per_line * MRZ_PITCH_MM, centre + half)


TD3_GEOMETRY = DocumentGeometry(
    kind="TD3",
    width_mm=125.0,
    height_mm=88.0,
    mrz=MrzGeometry(
        lines=2,
        chars_per_line=44,
        first_char_left_mm=6.0,
        line_centres_from_bottom_mm=(15.75, 9.40),
        printing_zone_height_mm=4.3,
        zone_height_mm=23.2,
    ),
    mrz_side="front",
    photo_box_mm=(3.5, 13.0, 35.5, 51.4),  # 32 x 38.4 mm (5:6), inside the 35 x 45 mm maximum
)

TD1_GEOMETRY = DocumentGeometry(
    kind="TD1",
    width_mm=85.6,
    height_mm=53.98,
    mrz=MrzGeometry(
        lines=3,
        chars_per_line=30,
        first_char_left_mm=5.0,
        line_centres_from_bottom_mm=(15.73, 11.50, 7.27),
        printing_zone_height_mm=2.95,
        zone_height_mm=19.0,
    ),
    mrz_side="back",
    photo_box_mm=(3.0, 11.5, 30.0, 43.9),  # 27 x 32.4 mm (5:6), inside 26-35 x 32-45 mm
)

GEOMETRIES: dict[DocumentKind, DocumentGeometry] = {"TD3": TD3_GEOMETRY, "TD1": TD1_GEOMETRY}
