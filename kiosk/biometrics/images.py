"""Load an image file as the verifier's input: a contiguous H x W x 3 RGB ``uint8`` array.

Used by ``bordergate face verify`` (files from outside the kiosk, so untrusted). In order:

1. **File size**: a file larger than ``max_bytes`` (20 MB by default) is refused from ``stat``,
   before it is opened.
2. **Pixel count**: the header is read (``Image.open`` does not decode) and an image of more than
   ``max_pixels`` (25 megapixels by default) is refused *before decoding*, so a small file that
   declares a huge canvas (a decompression bomb) costs nothing. Pillow's own bomb check is a
   second line of defence.
3. **Decode**; JPEGs larger than ``max_side`` are decoded at a reduced scale (``draft``).
4. **EXIF orientation** is applied (``ImageOps.exif_transpose``), so a phone photo stored sideways
   with an orientation tag is seen upright, as a viewer shows it.
5. **Colour**: images with transparency (RGBA, LA, palette with a transparent colour) are
   composited over mid-grey (128), so transparent pixels do not show whatever colour they happen
   to hold; greyscale, palette, CMYK and the rest are converted to RGB.
6. **Size**: an image whose longer side exceeds ``max_side`` (1280 by default) is downscaled
   (Lanczos, aspect kept). Detection time grows with the pixel count (about 170 ms at 640 x 480,
   440 ms at 1200 x 800) and faces in such photos stay far above the detector's 40 px minimum.
   Small images are not upscaled here: the verifier does that itself.

Every failure raises :class:`ImageLoadError` with a short, non-biometric message. Nothing is
logged and nothing is kept.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import RGBImage

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "ImageLoadError",
    "load_rgb",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 25_000_000
DEFAULT_MAX_SIDE = 1280
_BACKGROUND = (128, 128, 128)


class ImageLoadError(ValueError):
    """An image file cannot be used: missing, too large, corrupt or not an image."""


def load_rgb(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
) -> RGBImage:
    """Read ``path`` as a C-contiguous H x W x 3 RGB uint8 array; see the module docstring."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise ImageLoadError(f"cannot read file: {exc.strerror or exc}") from None
    if not file.is_file():
        raise ImageLoadError("not a regular file")
    if size > max_bytes:
        raise ImageLoadError(f"file too large: {size} bytes (limit {max_bytes})")
    if size == 0:
        raise ImageLoadError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise ImageLoadError(f"image has no pixels ({width} x {height})")
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"image too large: {width} x {height} pixels (limit {max_pixels})"
                    )
                if img.format == "JPEG" and max(width, height) > max_side:
                    img.draft("RGB", (max_side, max_side))
                img.load()
                rgb = _to_rgb(ImageOps.exif_transpose(img))
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError("not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"image too large: {exc}") from None
    except Exception as exc:  # a malformed file can make Pillow raise almost anything
        raise ImageLoadError(f"corrupt image: {type(exc).__name__}: {exc}") from None
    if max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        new_size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(new_size, Image.Resampling.LANCZOS)
    out: RGBImage = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    return out


def _to_rgb(img: Image.Image) -> Image.Image:
    """Composite transparency over mid-grey and convert to 8-bit RGB."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale to 8 bits instead of clipping at 255.
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max()) if arr.size else 0.0
        scaled = np.zeros(arr.shape, np.uint8) if peak <= 0 else (arr * (255.0 / peak))
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L").convert("RGB")
    return img.convert("RGB")
