"""Safe image loading for the MRZ reader: size limits, decompression bombs, broken files."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from kiosk.mrz.locate import GreyImage

MAX_FILE_BYTES = 25 * 1024 * 1024
"""A data-page image from a document reader or a phone is a few MB at most."""
MAX_PIXELS = 40_000_000
"""Refused before decoding (so a small file that would decode to gigabytes is never unpacked)."""
MIN_SIDE = 200
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP", "WEBP", "PPM"})


class ImageLoadError(ValueError):
    """The input is not an image the reader accepts (the message says why)."""


def load_grey(source: str | Path | bytes) -> GreyImage:
    """A file path or the file's bytes -> H x W float32 grey levels (0-255)."""
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageLoadError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        if size > MAX_FILE_BYTES:
            raise ImageLoadError(f"file too large: {size} bytes (limit {MAX_FILE_BYTES})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageLoadError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if len(data) == 0:
        raise ImageLoadError("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageLoadError(f"file too large: {len(data)} bytes (limit {MAX_FILE_BYTES})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            try:
                if image.format not in ALLOWED_FORMATS:
                    raise ImageLoadError(f"unsupported image format {image.format}")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageLoadError(
                        f"image too large: {width} x {height} pixels (limit {MAX_PIXELS})"
                    )
                if min(width, height) < MIN_SIDE:
                    raise ImageLoadError(f"image too small to hold an MRZ: {width} x {height}")
                image.load()
                grey = image.convert("L")
            finally:
                image.close()
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError("not an image (unrecognised file format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"image too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(f"broken or truncated image: {exc}") from None
    return np.asarray(grey, dtype=np.float32)


def as_grey(image: np.ndarray) -> GreyImage:
    """An H x W grey or H x W x 3 RGB array -> H x W float32 grey levels."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        rgb = array[..., :3].astype(np.float32)
        grey = np.asarray(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    elif array.ndim == 2:
        grey = np.asarray(array, dtype=np.float32)
    else:
        raise ImageLoadError(f"not an image array: shape {array.shape}")
    # NaN or infinite levels (a float array from a broken driver) would poison every filter.
    if not np.isfinite(grey).all():
        raise ImageLoadError("not an image array: non-finite grey levels")
    return grey
