"""Decode the barcodes in a scanner image (zxing-cpp): PDF417, QR and Aztec.

Paper boarding passes carry PDF417; mobile ones QR or Aztec; bordergate's cruise cards PDF417.
The image is converted to luminance first; if the default binarizer finds nothing, the global
histogram and fixed-threshold binarizers are tried (they cope better with uneven light).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import zxingcpp

from hardware_mocks.interfaces import RGBImage

FORMATS = zxingcpp.barcode_formats_from_str("PDF417,QRCode,Aztec")
_BINARIZERS = (
    zxingcpp.Binarizer.LocalAverage,
    zxingcpp.Binarizer.GlobalHistogram,
    zxingcpp.Binarizer.FixedThreshold,
)
MAX_PIXELS = 4096 * 4096


class BarcodeDecodeError(ValueError):
    """The image is not a usable picture, or holds no readable barcode."""


def _luminance(image: RGBImage) -> npt.NDArray[np.uint8]:
    if not isinstance(image, np.ndarray):
        raise BarcodeDecodeError(f"expected a numpy image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise BarcodeDecodeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] == 3:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        gray = (image.astype(np.float32) @ weights).astype(np.uint8)
    else:
        raise BarcodeDecodeError(f"expected an H x W x 3 RGB image, got shape {image.shape}")
    if gray.shape[0] < 20 or gray.shape[1] < 20:
        raise BarcodeDecodeError(f"image too small to hold a barcode: {gray.shape[:2]}")
    if gray.shape[0] * gray.shape[1] > MAX_PIXELS:
        raise BarcodeDecodeError(f"image too large: {gray.shape[:2]}")
    return np.ascontiguousarray(gray)


def decode_barcodes(image: RGBImage) -> list[str]:
    """The text of every barcode found, in reading order; raises BarcodeDecodeError if none."""
    gray = _luminance(image)
    for binarizer in _BINARIZERS:
        found = zxingcpp.read_barcodes(gray, formats=FORMATS, binarizer=binarizer)
        texts = [b.text for b in found if b.valid and b.text]
        if texts:
            return list(dict.fromkeys(texts))
    raise BarcodeDecodeError("no readable PDF417, QR or Aztec barcode in the image")
