"""Benchmark samples: a rendered, degraded document image with its ground truth.

``render_sample(seed, condition, kind)`` is deterministic: the document (holder, numbers, photo)
depends on ``seed`` and ``kind`` only, so the same seed gives the same document in every
condition; the degradation depends on the condition as well. Face photos are read from
``faces_dir`` (the LFW crops in the shared data folder) and never copied: the truth names the
photo by ``identity/file`` only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hardware_mocks.document_page.data import PageData
from hardware_mocks.document_page.degrade import CONDITIONS, Condition, degrade, start
from hardware_mocks.document_page.geometry import GEOMETRIES, DocumentKind, Side, mm_to_px
from hardware_mocks.document_page.render import default_side, render_page, render_page_image
from hardware_mocks.interfaces import RGBImage
from hardware_mocks.travellers import Traveller, discover_identities

TRUTH_SCHEMA = 1
PORTRAIT_SIZE = (250, 300)
DPI_CHOICES = (300, 330, 360, 400)
"""Reader resolutions for the clean and degraded conditions (the camera renders at 300)."""


@dataclass(frozen=True, slots=True, eq=False)
class Sample:
    image: RGBImage
    truth: dict[str, Any]
    """JSON-ready ground truth (see :func:`render_sample`)."""
    jpeg: bytes | None = None
    """For JPEG samples, the file exactly as encoded (``image`` is its decoding)."""

    @property
    def suffix(self) -> str:
        return ".jpg" if self.jpeg is not None else ".png"


@lru_cache(maxsize=16)
def _identities(faces_dir: Path) -> dict[str, tuple[Path, ...]]:
    return discover_identities(faces_dir)


def page_portrait(photo_path: Path) -> RGBImage:
    """A document portrait from a tight face crop: the face filling the width of a 5:6 frame on
    a light background, a little headroom above."""
    with Image.open(photo_path) as im:
        face = im.convert("RGB").resize(
            (PORTRAIT_SIZE[0], PORTRAIT_SIZE[0]), Image.Resampling.LANCZOS
        )
    canvas = Image.new("RGB", PORTRAIT_SIZE, (228, 232, 238))
    canvas.paste(face, (0, (PORTRAIT_SIZE[1] - PORTRAIT_SIZE[0]) // 3))
    return np.ascontiguousarray(np.asarray(canvas, dtype=np.uint8))


def choose_photo(faces_dir: Path | None, rng: random.Random) -> Path | None:
    """A seeded face photo from ``faces_dir`` (None if absent or empty)."""
    if faces_dir is None or not faces_dir.is_dir():
        return None
    identities = _identities(faces_dir)
    if not identities:
        return None
    name = rng.choice(sorted(identities))
    return rng.choice(identities[name])


def render_sample(
    seed: int,
    condition: Condition,
    kind: DocumentKind = "TD3",
    faces_dir: Path | None = None,
    *,
    side: Side | None = None,
) -> Sample:
    """One benchmark image and its ground truth.

    The truth holds the MRZ lines exactly, the printed fields, the resolution, where the
    document's corners and each MRZ line's printing zone landed in the image (clockwise from the
    top-left, in image pixels), the photo used, and every degradation with its drawn parameters.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; expected one of {CONDITIONS}")
    data_rng = random.Random(f"document-page|{seed}|{kind}")
    document = PageData.random(data_rng, kind)
    photo_path = choose_photo(faces_dir, data_rng)
    dpi = 300 if condition == "camera" else data_rng.choice(DPI_CHOICES)
    side = side or default_side(document)
    photo = page_portrait(photo_path) if photo_path is not None else None
    page = render_page_image(document, dpi=dpi, photo=photo, side=side)
    rng = np.random.default_rng([seed, CONDITIONS.index(condition), 1 if kind == "TD1" else 3])
    capture = degrade(start(page, dpi), condition, rng)
    image = np.ascontiguousarray(np.asarray(capture.image, dtype=np.uint8))
    photo_ref = None
    if photo_path is not None:
        photo_ref = f"{photo_path.parent.name}/{photo_path.name}"
    truth = {
        "schema": TRUTH_SCHEMA,
        "seed": seed,
        "condition": condition,
        "kind": kind,
        "side": side,
        "mrz_lines": list(document.mrz_lines),
        "mrz_on_image": side == GEOMETRIES[kind].mrz_side,
        "fields": document.fields(),
        "render_dpi": dpi,
        "image_size": [capture.image.width, capture.image.height],
        "document_corners": _round(capture.map_points(_corners_px(kind, dpi))),
        "mrz_line_quads": [_round(capture.map_points(q)) for q in mrz_line_quads_px(kind, dpi)],
        "photo": photo_ref,
        "degradations": list(capture.applied),
    }
    # a reader stores lossless PNG (JPEG artefacts baked in); a camera gives the JPEG file itself
    jpeg = capture.jpeg if condition == "camera" else None
    return Sample(image=image, truth=truth, jpeg=jpeg)


def _round(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[round(x, 2), round(y, 2)] for x, y in points]


def _corners_px(kind: DocumentKind, dpi: int) -> list[tuple[float, float]]:
    w, h = GEOMETRIES[kind].size_px(dpi)
    return [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]


def mrz_line_quads_px(kind: DocumentKind, dpi: int) -> list[list[tuple[float, float]]]:
    """Each MRZ line's printing zone on the rendered page, as 4 corners in page pixels."""
    geometry = GEOMETRIES[kind]
    quads = []
    for index in range(geometry.mrz.lines):
        left, top, right, bottom = (mm_to_px(v, dpi) for v in geometry.mrz_line_box_mm(index))
        quads.append([(left, top), (right, top), (right, bottom), (left, bottom)])
    return quads


def write_sample(sample: Sample, out_dir: Path, index: int) -> Path:
    """``NNNN.png`` (or the JPEG as encoded, ``NNNN.jpg``) and ``NNNN.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{index:04d}{sample.suffix}"
    if sample.jpeg is not None:
        path.write_bytes(sample.jpeg)
    else:
        Image.fromarray(sample.image, "RGB").save(path, format="PNG", compress_level=3)
    truth = dict(sample.truth, image=path.name)
    (out_dir / f"{index:04d}.json").write_text(json.dumps(truth, indent=1) + "\n")
    return path


def render_traveller_page(traveller: Traveller, *, dpi: int = 300) -> RGBImage:
    """The traveller's passport data page as a reader images it (clean), with the traveller's
    MRZ lines exactly and their document photo (a silhouette without face data)."""
    document = PageData.from_traveller(traveller)
    path = traveller.reference_photo_path
    photo = page_portrait(path) if path is not None else None
    return render_page(document, dpi=dpi, photo=photo)
