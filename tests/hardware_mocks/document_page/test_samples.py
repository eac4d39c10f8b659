"""Samples: determinism, the three conditions, ground truth, the photo zone, the writer."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td3 import TD3CodeChecker
from PIL import Image

from hardware_mocks.document_page import (
    CONDITIONS,
    GEOMETRIES,
    Condition,
    fit_portrait,
    page_portrait,
    render_page,
    render_sample,
    render_traveller_page,
    silhouette,
    write_sample,
)
from hardware_mocks.document_page.geometry import DocumentKind
from hardware_mocks.travellers import TravellerFactory
from tests.hardware_mocks.document_page.conftest import document

MM = 25.4


def photo_region(image: np.ndarray, kind: DocumentKind, dpi: int) -> np.ndarray:
    left, top, right, bottom = (round(v * dpi / MM) for v in GEOMETRIES[kind].photo_box_mm)
    return image[top:bottom, left:right]


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_seed_gives_the_same_sample_and_another_seed_another(condition: Condition) -> None:
    a = render_sample(11, condition, "TD3")
    b = render_sample(11, condition, "TD3")
    c = render_sample(12, condition, "TD3")
    assert np.array_equal(a.image, b.image)
    assert a.truth == b.truth
    assert a.jpeg == b.jpeg
    assert a.truth["mrz_lines"] != c.truth["mrz_lines"]
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("kind", ["TD3", "TD1"])
def test_conditions_share_the_document_but_not_the_image(kind: DocumentKind) -> None:
    samples = {c: render_sample(5, c, kind) for c in CONDITIONS}
    clean = samples["clean"]
    for condition in ("degraded", "camera"):
        other = samples[condition]
        assert other.truth["mrz_lines"] == clean.truth["mrz_lines"]
        assert other.truth["fields"] == clean.truth["fields"]
        if other.image.shape == clean.image.shape:
            assert mean_diff(other.image, clean.image) > 5
    assert samples["camera"].image.shape == (960, 1280, 3)
    # clean is the page itself plus slight noise only
    dpi = clean.truth["render_dpi"]
    assert clean.truth["degradations"][0]["name"] == "noise"
    assert len(clean.truth["degradations"]) == 1
    assert clean.image.shape[:2] == GEOMETRIES[kind].size_px(dpi)[::-1]
    corners = clean.truth["document_corners"]
    assert corners[0] == [0.0, 0.0]


@pytest.mark.parametrize("kind", ["TD3", "TD1"])
def test_truth_mrz_lines_pass_the_checker(kind: DocumentKind) -> None:
    checker = TD3CodeChecker if kind == "TD3" else TD1CodeChecker
    for seed in range(6):
        truth = render_sample(seed, "clean", kind).truth
        assert bool(checker("\n".join(truth["mrz_lines"])))
        assert truth["mrz_on_image"] is True


def test_degraded_rotation_is_bounded_and_the_truth_corners_fit_the_image() -> None:
    angles = []
    for seed in range(6):
        sample = render_sample(seed, "degraded", "TD3" if seed % 2 else "TD1")
        steps = {s["name"]: s for s in sample.truth["degradations"]}
        assert set(steps) == {"rotate", "uneven_light", "blur", "noise", "jpeg"}
        assert 40 <= steps["jpeg"]["quality"] <= 70
        degrees = steps["rotate"]["degrees"]
        assert abs(degrees) <= 5.0
        angles.append(degrees)
        tl, tr, br, bl = sample.truth["document_corners"]
        measured = math.degrees(math.atan2(tr[1] - tl[1], tr[0] - tl[0]))
        assert measured == pytest.approx(degrees, abs=0.01)
        grey = sample.image.astype(np.int32).sum(axis=2) / 3
        cx = sum(p[0] for p in (tl, tr, br, bl)) / 4
        cy = sum(p[1] for p in (tl, tr, br, bl)) / 4
        for x, y in (tl, tr, br, bl):
            # 3% of the way to the centre: on the page; 3% away from it: the reader's dark glass
            ix, iy = round(x + (cx - x) * 0.03), round(y + (cy - y) * 0.03)
            ox, oy = round(x - (cx - x) * 0.03), round(y - (cy - y) * 0.03)
            assert grey[iy, ix] > 110, (seed, x, y)
            assert grey[oy, ox] < 90, (seed, x, y)
    assert max(abs(a) for a in angles) > 1.0  # the rotation is really applied


def cap_height_px(quad: list[list[float]], zone_mm: float) -> float:
    """The MRZ capitals' height in the image, from the printing zone's quad."""
    tl, tr, br, bl = (np.array(p) for p in quad)
    zone_px = min(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    return float(zone_px * 2.46 / zone_mm)


@pytest.mark.parametrize("kind", ["TD3", "TD1"])
def test_camera_images_keep_the_mrz_readable(kind: DocumentKind) -> None:
    zone = GEOMETRIES[kind].mrz.printing_zone_height_mm
    for seed in range(4):
        sample = render_sample(seed, "camera", kind)
        h, w = sample.image.shape[:2]
        truth = sample.truth
        assert truth["image_size"] == [w, h]
        steps = {s["name"]: s for s in truth["degradations"]}
        assert {"camera_view", "glare", "jpeg"} <= set(steps)
        assert abs(steps["camera_view"]["pitch_deg"]) <= 25
        for x, y in truth["document_corners"]:
            assert 0 <= x <= w
            assert 0 <= y <= h
        grey = sample.image.astype(np.int32).sum(axis=2) / 3
        for quad in truth["mrz_line_quads"]:
            assert cap_height_px(quad, zone) >= 14  # about 2.46 mm at 150 dpi or more
            xs = [p[0] for p in quad]
            ys = [p[1] for p in quad]
            box = grey[round(min(ys)) : round(max(ys)), round(min(xs)) : round(max(xs))]
            dark, light = np.percentile(box, [3, 90])
            assert light - dark > 60, (seed, dark, light)  # ink still stands out of the glare
        decoded = np.asarray(Image.open(io.BytesIO(sample.jpeg or b"")).convert("RGB"))
        assert np.array_equal(decoded, sample.image)


def test_the_photo_zone_holds_the_face(faces_dir: Path) -> None:
    photo_path = sorted(next(p for p in sorted(faces_dir.iterdir()) if p.is_dir()).glob("*.jpg"))[0]
    portrait = page_portrait(photo_path)
    dpi = 300
    kinds: tuple[DocumentKind, ...] = ("TD3", "TD1")
    for kind in kinds:
        page = render_page(document(kind), dpi=dpi, photo=portrait, side="front")
        region = photo_region(page, kind, dpi)
        size = (region.shape[1], region.shape[0])
        assert mean_diff(region, np.asarray(fit_portrait(portrait, size))) < 1.0
        assert mean_diff(region, np.asarray(silhouette(size))) > 20
    # and through render_sample: the clean TD3 sample shows a face from the data folder
    sample = render_sample(3, "clean", "TD3", faces_dir)
    name = sample.truth["photo"]
    assert name is not None
    assert (faces_dir / name).is_file()
    dpi = sample.truth["render_dpi"]
    region = photo_region(sample.image, "TD3", dpi)
    size = (region.shape[1], region.shape[0])
    expected = np.asarray(fit_portrait(page_portrait(faces_dir / name), size))
    assert mean_diff(region, expected) < 3.0  # the clean condition's noise only


def test_without_faces_the_photo_zone_is_a_silhouette() -> None:
    sample = render_sample(3, "clean", "TD3", None)
    assert sample.truth["photo"] is None
    region = photo_region(sample.image, "TD3", sample.truth["render_dpi"])
    size = (region.shape[1], region.shape[0])
    assert mean_diff(region, np.asarray(silhouette(size))) < 3.0
    missing = render_sample(3, "clean", "TD3", Path("/nonexistent/faces"))
    assert missing.truth["photo"] is None


def test_writer_saves_image_and_truth_side_by_side(tmp_path: Path) -> None:
    clean = render_sample(2, "clean", "TD1")
    camera = render_sample(2, "camera", "TD1")
    degraded = render_sample(2, "degraded", "TD1")
    png = write_sample(clean, tmp_path / "clean", 7)
    jpg = write_sample(camera, tmp_path / "camera", 7)
    deg = write_sample(degraded, tmp_path / "degraded", 7)
    assert [png.name, jpg.name, deg.name] == ["0007.png", "0007.jpg", "0007.png"]
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), clean.image)
    assert np.array_equal(np.asarray(Image.open(jpg).convert("RGB")), camera.image)
    truth = json.loads((tmp_path / "camera" / "0007.json").read_text())
    assert truth["mrz_lines"] == camera.truth["mrz_lines"]
    assert truth["image"] == "0007.jpg"
    assert (truth["kind"], truth["side"]) == ("TD1", "back")


def test_traveller_page_and_render_time() -> None:
    traveller = TravellerFactory(seed=1, faces_dir=None).next()
    image = render_traveller_page(traveller, dpi=300)
    assert image.shape == (1039, 1476, 3)
    doc = document("TD3")
    render_page(doc, dpi=400)  # warm the font cache
    started = time.perf_counter()
    for _ in range(3):
        render_page(doc, dpi=400)
    assert (time.perf_counter() - started) / 3 < 0.5
