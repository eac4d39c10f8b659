"""Fonts: OCR-B for the MRZ (Debian's fonts-ocr-b), DejaVu Sans for the visual zone.

Sizes are asked for as a capital height in millimetres; the em size is derived from each font's
own capital height so that the printed size does not depend on the font's design.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from hardware_mocks.document_page.geometry import mm_to_px

OCRB_PATHS = (
    Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"),
    Path("/usr/share/fonts/truetype/ocr-b/OCRB.ttf"),
)
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
SANS = _DEJAVU / "DejaVuSans.ttf"
SANS_BOLD = _DEJAVU / "DejaVuSans-Bold.ttf"
SANS_CONDENSED = _DEJAVU / "DejaVuSansCondensed.ttf"
SANS_CONDENSED_BOLD = _DEJAVU / "DejaVuSansCondensed-Bold.ttf"
MONO = _DEJAVU / "DejaVuSansMono.ttf"

Font = ImageFont.FreeTypeFont


class FontMissingError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def ocrb_path() -> Path:
    """The OCR-B font; DejaVu Sans Mono (with a warning) where fonts-ocr-b is not installed."""
    for path in OCRB_PATHS:
        if path.is_file():
            return path
    if MONO.is_file():
        warnings.warn(
            "OCR-B not found (apt-get install fonts-ocr-b); the MRZ falls back to DejaVu Sans Mono",
            stacklevel=2,
        )
        return MONO
    raise FontMissingError("neither OCR-B (fonts-ocr-b) nor DejaVu (fonts-dejavu-core) found")


@lru_cache(maxsize=16)
def _cap_ratio(path: Path) -> float:
    """Capital height / em size of the font at ``path``."""
    probe = ImageFont.truetype(str(path), 1000)
    _, top, _, bottom = probe.getbbox("H", anchor="ls")
    return (bottom - top) / 1000


def font_path(path: Path) -> Path:
    if not path.is_file():
        raise FontMissingError(f"font not found: {path} (apt-get install fonts-dejavu-core)")
    return path


@lru_cache(maxsize=128)
def font_for_cap_height(path: Path, cap_height_mm: float, dpi: int) -> Font:
    """``path`` at the em size whose capital letters are ``cap_height_mm`` tall at ``dpi``."""
    path = font_path(path)
    em_px = mm_to_px(cap_height_mm, dpi) / _cap_ratio(path)
    return ImageFont.truetype(str(path), max(1, round(em_px)))


def ocrb(cap_height_mm: float, dpi: int) -> Font:
    return font_for_cap_height(ocrb_path(), cap_height_mm, dpi)
