"""MRZ reader for data-page images (ICAO Doc 9303 TD1, TD2, TD3), built for OCR-B.

``read_mrz(image) -> MRZRead``: the image (RGB/grey array, path or file bytes) is located
(:mod:`.locate`: glyph rows at the MRZ's fixed pitch, perspective rectified by a homography),
cut into its fixed-pitch cells (:mod:`.segment`), each cell classified over the 37-character
alphabet by a small network trained on OCR-B renderings (:mod:`.classify`, :mod:`.train`),
decoded under field types and check digits with cautious repair (:mod:`.repair`), and validated
with :func:`kiosk.document.parse_mrz`. Bad files are answered, never raised (:mod:`.io`).
"""

from kiosk.mrz.io import MAX_FILE_BYTES, MAX_PIXELS, ImageLoadError
from kiosk.mrz.reader import MRZRead, read_grey, read_mrz

__all__ = ["MAX_FILE_BYTES", "MAX_PIXELS", "ImageLoadError", "MRZRead", "read_grey", "read_mrz"]
