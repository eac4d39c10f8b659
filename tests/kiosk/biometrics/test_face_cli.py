"""``bordergate face verify`` on real photos (skipped where the shared data is absent) and on
images made here. Real-pair distances with the CLI pipeline, measured when the tests were written:
Colin Powell 0013 vs 0012 about 0.33, Colin Powell vs Hugo Chavez about 0.96."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bordergate.cli import app
from kiosk.biometrics.face_match import CALIBRATED_THRESHOLD, FaceRecognitionVerifier

from .test_images import png_header_only

KEYS = {"match", "distance", "threshold", "probe_faces", "reference_faces"}


@pytest.fixture(scope="module")
def faces(test_data_dir: Path) -> Path:
    path = test_data_dir / "faces"
    if not path.is_dir():
        pytest.skip(f"no faces/ in {test_data_dir}")
    return path


def lfw(faces: Path, name: str) -> Path:
    identity = name.rsplit("_", 1)[0].lower()
    return faces / "lfw_crops" / identity / f"{name}.jpg"


def run(*args: str | Path, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["face", "verify", *map(str, args)])
    assert result.exit_code == code, result.output
    return result


def verify_json(*args: str | Path) -> dict[str, Any]:
    lines = run(*args, "--json").stdout.splitlines()
    assert len(lines) == 1, lines
    out: dict[str, Any] = json.loads(lines[0])
    return out


def write(path: Path, array: np.ndarray, **save: Any) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(path, **save)
    return path


def assert_error(out: dict[str, Any], probe_faces: int, reference_faces: int, text: str) -> None:
    assert out["match"] is False
    assert out["distance"] is None
    assert out["probe_faces"] == probe_faces
    assert out["reference_faces"] == reference_faces
    assert text in out["error"]


# --- decisions -----------------------------------------------------------------------------


def test_genuine_pair_matches(faces: Path) -> None:
    out = verify_json(lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012"))
    assert set(out) == KEYS
    assert out["match"] is True
    assert out["threshold"] == CALIBRATED_THRESHOLD
    assert 0.0 < out["distance"] <= CALIBRATED_THRESHOLD
    assert out["probe_faces"] == out["reference_faces"] == 1


def test_impostor_pair_does_not_match(faces: Path) -> None:
    out = verify_json(lfw(faces, "Hugo_Chavez_0012"), lfw(faces, "Colin_Powell_0012"))
    assert set(out) == KEYS  # a decision, not an error
    assert out["match"] is False
    assert out["distance"] > CALIBRATED_THRESHOLD
    assert out["probe_faces"] == out["reference_faces"] == 1


def test_threshold_option_changes_the_decision(faces: Path) -> None:
    pair = (lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012"))
    default = verify_json(*pair)
    strict = verify_json(*pair, "--threshold", "0.2")
    assert default["match"] is True
    assert strict["match"] is False
    assert strict["threshold"] == 0.2
    assert strict["distance"] == default["distance"]
    loose = verify_json(lfw(faces, "Hugo_Chavez_0012"), pair[1], "--threshold", "1.0")
    assert loose["match"] is True


def test_human_readable_output(faces: Path) -> None:
    out = run(lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012")).stdout
    assert ": MATCH (distance 0." in out


# --- faces and images ----------------------------------------------------------------------


def test_several_faces_give_an_error(faces: Path) -> None:
    out = verify_json(faces / "multi_face" / "two_people.jpg", lfw(faces, "Colin_Powell_0012"))
    assert out["probe_faces"] > 1
    assert_error(out, out["probe_faces"], 1, "faces found, exactly one is needed")


def test_blank_image_gives_no_face(faces: Path, tmp_path: Path) -> None:
    blank = write(tmp_path / "blank.png", np.full((480, 640, 3), 200, np.uint8))
    out = verify_json(blank, lfw(faces, "Colin_Powell_0012"))
    assert_error(out, 0, 1, "probe: no face found")
    out = verify_json(lfw(faces, "Colin_Powell_0012"), blank)
    assert_error(out, 1, 0, "reference: no face found")


@pytest.mark.parametrize("kind", ["corrupt", "text", "missing", "oversized"])
def test_unusable_files_give_errors_with_exit_0(faces: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "probe.jpg"
    if kind == "corrupt":
        path.write_bytes(lfw(faces, "Colin_Powell_0013").read_bytes()[:600])
    elif kind == "text":
        path.write_text("probe\treference\n")
    elif kind == "oversized":
        png_header_only(path, 6000, 5000)
    expected = {
        "corrupt": "probe: corrupt image",
        "text": "probe: not a recognised image format",
        "missing": "probe: cannot read file",
        "oversized": "probe: image too large: 6000 x 5000",
    }[kind]
    out = verify_json(path, lfw(faces, "Colin_Powell_0012"))
    assert_error(out, 0, 1, expected)


def test_tiny_image_is_upscaled_and_still_compared(faces: Path, tmp_path: Path) -> None:
    crop = np.asarray(Image.open(lfw(faces, "Colin_Powell_0013")).convert("RGB"))
    tiny = write(tmp_path / "tiny.png", np.asarray(Image.fromarray(crop).resize((40, 40))))
    out = verify_json(tiny, lfw(faces, "Colin_Powell_0012"))
    assert out["probe_faces"] == 1
    assert out["distance"] is not None
    one_pixel = write(tmp_path / "one.png", np.zeros((1, 1, 3), np.uint8))
    assert_error(verify_json(one_pixel, lfw(faces, "Colin_Powell_0012")), 0, 1, "no face")


def test_huge_image_is_downscaled_and_matches(faces: Path, tmp_path: Path) -> None:
    # 2000 x 1428 source blown up to 4000 x 2856 (11 MP): within the limits, downscaled to 1280.
    group = Image.open(faces / "multi_face" / "obama_and_biden.jpg").convert("RGB")
    big = group.resize((4000, 2856))
    path = tmp_path / "big.jpg"
    big.save(path, quality=90)
    out = verify_json(path, faces / "derived_same_photo" / "obama-480p.jpg")
    assert out["probe_faces"] >= 2  # both faces still found after downscaling
    assert "exactly one" in out["error"]


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_copy_still_matches(faces: Path, tmp_path: Path, orientation: int) -> None:
    upright = np.asarray(Image.open(lfw(faces, "Colin_Powell_0013")).convert("RGB"))
    stored = np.rot90(upright, k=1 if orientation == 6 else -1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = write(tmp_path / "rotated.jpg", stored, exif=exif, quality=95)
    reference = lfw(faces, "Colin_Powell_0012")
    out = verify_json(path, reference)
    assert out["match"] is True
    # Control: the stored pixels, read without the orientation tag, hold no usable upright face.
    plain = write(tmp_path / "plain.jpg", stored, quality=95)
    assert verify_json(plain, reference)["match"] is False


def test_rgba_images_work(faces: Path, tmp_path: Path) -> None:
    rgba = faces / "derived_same_photo" / "32bit.png"
    assert Image.open(rgba).mode == "RGBA"
    other = faces / "derived_same_photo" / "obama-480p.jpg"
    assert verify_json(rgba, other)["match"] is True
    # A made RGBA crop with a transparent border.
    crop = np.asarray(Image.open(lfw(faces, "Colin_Powell_0013")).convert("RGB"))
    alpha = np.zeros(crop.shape[:2], np.uint8)
    alpha[5:-5, 5:-5] = 255
    made = write(tmp_path / "rgba.png", np.dstack([crop, alpha]))
    assert Image.open(made).mode == "RGBA"
    assert verify_json(made, lfw(faces, "Colin_Powell_0012"))["match"] is True


# --- batches -------------------------------------------------------------------------------


def test_pairs_in_order_each_image_encoded_once(
    faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012")
    c, bad = lfw(faces, "Hugo_Chavez_0012"), tmp_path / "bad.jpg"
    bad.write_text("not an image")
    pairs = [(a, b), (c, b), (bad, b), (b, a), (a, b)]
    pairs_file = tmp_path / "pairs.tsv"
    pairs_file.write_text(
        "# probe\treference\n\n" + "".join(f"{p}\t{r}\n" for p, r in pairs), encoding="utf-8"
    )
    calls = 0
    encode = FaceRecognitionVerifier._encode_exactly_one

    def counting(self: FaceRecognitionVerifier, image: Any) -> Any:
        nonlocal calls
        calls += 1
        return encode(self, image)

    monkeypatch.setattr(FaceRecognitionVerifier, "_encode_exactly_one", counting)
    lines = run("--pairs", pairs_file, "--json").stdout.splitlines()
    assert calls == 3  # a, b, c: the bad file is not encoded, and nothing twice
    results = [json.loads(line) for line in lines]
    assert [r["match"] for r in results] == [True, False, False, True, True]
    assert "error" in results[2]
    assert results[0]["distance"] == results[4]["distance"]
    assert results[0]["distance"] == pytest.approx(results[3]["distance"], abs=1e-4)
    assert all(set(r) == KEYS for i, r in enumerate(results) if i != 2)


def test_pairs_from_standard_input(faces: Path) -> None:
    a, b = lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012")
    result = CliRunner().invoke(
        app, ["face", "verify", "--pairs", "-", "--json"], input=f"{a}\t{b}\n{b}\t{b}\n"
    )
    assert result.exit_code == 0, result.output
    distances = [json.loads(line)["distance"] for line in result.stdout.splitlines()]
    assert len(distances) == 2
    assert distances[0] > 0.1
    assert distances[1] == 0.0


# --- usage errors: exit 2, nothing on stdout -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give PROBE and REFERENCE"),
        (("one.jpg",), "give PROBE and REFERENCE"),
        (("a.jpg", "b.jpg", "--pairs", "p.tsv"), "not both"),
        (("--pairs", "missing.tsv"), "cannot read missing.tsv"),
        (("a.jpg", "b.jpg", "--threshold", "0"), "--threshold must be in (0, 1]"),
        (("a.jpg", "b.jpg", "--threshold", "nan"), "--threshold must be in (0, 1]"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.tsv").write_text("")
    result = run(*args, "--json", code=2)
    assert result.stdout == ""
    assert message in result.stderr


def test_malformed_pairs_line_exits_2(tmp_path: Path) -> None:
    pairs_file = tmp_path / "pairs.tsv"
    pairs_file.write_text("a.jpg\tb.jpg\nonly-one-field\n")
    result = run("--pairs", pairs_file, code=2)
    assert result.stdout == ""
    assert "line 2: expected probe<TAB>reference" in result.stderr


def test_nothing_is_logged(faces: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    out = verify_json(lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0012"))
    assert out["match"] is True
    assert caplog.records == []


def test_truncated_jpeg_is_refused_after_the_backend_is_loaded(faces: Path, tmp_path: Path) -> None:
    # face_recognition turns on Pillow's LOAD_TRUNCATED_IMAGES when imported; the verifier undoes
    # that, so a file cut short is an error, not a half-grey picture compared as a face.
    FaceRecognitionVerifier()
    data = lfw(faces, "Colin_Powell_0013").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 3 // 4])
    out = verify_json(path, lfw(faces, "Colin_Powell_0012"))
    assert_error(out, 0, 1, "probe: corrupt image")
