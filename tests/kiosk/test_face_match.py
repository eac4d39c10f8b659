"""FaceRecognitionVerifier on the real shared images (skipped where the data is absent).

The pairs are fixed files; their distances with this pipeline (chip and mirror, measured
2026-11-28) leave a wide margin to the threshold: genuine pairs about 0.30-0.33, impostor pairs
0.78-0.92, against a threshold of 0.545.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.biometrics import FaceVerifier, RGBImage
from kiosk.biometrics.face_match import (
    CALIBRATED_THRESHOLD,
    EncodingCache,
    FaceRecognitionVerifier,
    ImageFormatError,
)

FRAME_H, FRAME_W = 480, 640


@pytest.fixture(scope="module")
def verifier() -> FaceRecognitionVerifier:
    v = FaceRecognitionVerifier()
    _: FaceVerifier = v  # satisfies the kiosk's protocol (checked by mypy)
    return v


@pytest.fixture(scope="module")
def faces(test_data_dir: Path) -> Path:
    path = test_data_dir / "faces"
    if not path.is_dir():
        pytest.skip(f"no faces/ in {test_data_dir}")
    return path


@cache
def _load(path: Path, mode: str = "RGB", max_side: int | None = None) -> RGBImage:
    img = Image.open(path).convert(mode)
    if max_side is not None and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)))
    arr: RGBImage = np.asarray(img)
    arr.flags.writeable = False  # cached: no test may change it
    return arr


def lfw(faces: Path, name: str) -> RGBImage:
    """An LFW crop, e.g. ``Colin_Powell_0012`` (125 x 125: upscaled by the verifier)."""
    identity = name.rsplit("_", 1)[0].lower()
    return _load(faces / "lfw_crops" / identity / f"{name}.jpg")


def in_frame(img: RGBImage) -> RGBImage:
    """Paste an image at the centre of a mid-grey 640 x 480 camera frame."""
    frame = np.full((FRAME_H, FRAME_W, 3), 128, dtype=np.uint8)
    h, w = img.shape[:2]
    y, x = (FRAME_H - h) // 2, (FRAME_W - w) // 2
    frame[y : y + h, x : x + w] = img[:, :, :3]
    return frame


def blank() -> RGBImage:
    return np.zeros((FRAME_H, FRAME_W, 3), dtype=np.uint8)


# --- decisions on real pairs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "live"),
    [("Colin_Powell_0012", "Colin_Powell_0013"), ("George_W_Bush_0012", "George_W_Bush_0013")],
)
def test_genuine_pair_matches(
    verifier: FaceRecognitionVerifier, faces: Path, reference: str, live: str
) -> None:
    result = verifier.verify([in_frame(lfw(faces, live))], lfw(faces, reference))
    assert result.matched
    assert result.score >= 1 - verifier.threshold
    assert result.liveness == "not_checked"


@pytest.mark.parametrize(
    ("reference", "live"),
    [("Colin_Powell_0012", "Hugo_Chavez_0012"), ("Tony_Blair_0013", "George_W_Bush_0011")],
)
def test_impostor_pair_does_not_match(
    verifier: FaceRecognitionVerifier, faces: Path, reference: str, live: str
) -> None:
    assessment = verifier.assess([in_frame(lfw(faces, live))], lfw(faces, reference))
    # Both faces were found and compared: the refusal is the comparison's, not a fail-closed 0.
    assert assessment.reason == "not_matched"
    assert assessment.live_faces == (1,)
    assert not assessment.result.matched
    assert 0.0 < assessment.result.score < 1 - verifier.threshold


def test_score_is_independent_of_threshold(verifier: FaceRecognitionVerifier, faces: Path) -> None:
    live, reference = [in_frame(lfw(faces, "Colin_Powell_0013"))], lfw(faces, "Colin_Powell_0012")
    default = verifier.verify(live, reference)
    strict = FaceRecognitionVerifier(threshold=0.2).verify(live, reference)
    assert default.matched
    assert not strict.matched
    assert strict.score == pytest.approx(default.score)


def test_frames_are_fused_by_median_distance(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    reference = lfw(faces, "Colin_Powell_0012")
    genuine = [lfw(faces, "Colin_Powell_0013"), lfw(faces, "Colin_Powell_0011")]
    impostor = [lfw(faces, "Hugo_Chavez_0012"), lfw(faces, "Hugo_Chavez_0013")]
    # One genuine frame among impostor frames must not pass (the minimum distance would).
    one_good = verifier.assess([genuine[0], *impostor], reference)
    assert one_good.live_faces == (1, 1, 1)
    assert not one_good.result.matched
    # One bad frame among genuine frames must not fail a genuine traveller.
    one_bad = verifier.verify([*genuine, impostor[0]], reference)
    assert one_bad.matched


# --- the encoding: the aligned chip and its mirror ----------------------------------------


def test_the_chip_path_encodes_as_face_recognition_does(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    # The verifier aligns the chip itself (to add the mirror); its plain pass must be the
    # library's own encoding of the same face, bit for bit.
    import face_recognition

    image = verifier._prepare(lfw(faces, "Tony_Blair_0013"))
    n, prepared, landmarks = verifier._locate_one(image)
    assert n == 1
    plain, mirrored = verifier._chip_encodings(prepared, landmarks)
    library = face_recognition.face_encodings(
        prepared, face_recognition.face_locations(prepared, 1, "hog"), 1, "small"
    )
    assert np.array_equal(plain, library[0])
    assert np.allclose(verifier._describe(prepared, landmarks), (plain + mirrored) / 2)
    assert np.linalg.norm(plain - mirrored) > 0.05  # the mirror is another view, not a copy


@pytest.mark.parametrize("name", ["Colin_Powell_0012", "Hugo_Chavez_0013", "Tony_Blair_0011"])
def test_the_encoding_does_not_depend_on_which_way_the_face_is_mirrored(
    verifier: FaceRecognitionVerifier, faces: Path, name: str
) -> None:
    image = in_frame(lfw(faces, name))
    flipped = np.ascontiguousarray(image[:, ::-1])
    _, a, a_marks = verifier._locate_one(image)
    _, b, b_marks = verifier._locate_one(flipped)
    one_pass = np.linalg.norm(
        verifier._chip_encodings(a, a_marks)[0] - verifier._chip_encodings(b, b_marks)[0]
    )
    both = np.linalg.norm(verifier._describe(a, a_marks) - verifier._describe(b, b_marks))
    # A mirrored photo of a face is the same face; averaging with the mirror removes most of
    # what a single pass makes of the difference (landmarks found on each side still differ).
    assert both < one_pass / 2
    assert verifier.compare(flipped, image).matched


def test_the_same_images_always_give_the_same_distance(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    probe, reference = in_frame(lfw(faces, "Colin_Powell_0013")), lfw(faces, "Colin_Powell_0012")
    distances = {verifier.compare(probe, reference).distance for _ in range(3)}
    assert len(distances) == 1


# --- exactly one face, fail closed ---------------------------------------------------------


def test_multi_face_frame_is_not_used(verifier: FaceRecognitionVerifier, faces: Path) -> None:
    reference = _load(faces / "derived_same_photo" / "obama-480p.jpg", max_side=640)
    group = _load(faces / "multi_face" / "obama_and_biden.jpg", max_side=640)  # 640 x 457
    assessment = verifier.assess([group], reference)
    assert assessment.live_faces[0] >= 2
    assert assessment.reason == "no_usable_live_frame"
    assert not assessment.result.matched
    assert assessment.result.score == 0.0
    # Control: the top right of the same picture holds Obama alone, and that does match; so the
    # refusal above comes from the several faces, not from a poor picture.
    obama_alone = group[:300, 332:]
    control = verifier.assess([obama_alone], reference)
    assert control.live_faces == (1,)
    assert control.result.matched


def test_multi_face_frame_is_skipped_among_good_frames(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    group = _load(faces / "multi_face" / "two_people.jpg", max_side=640)
    result = verifier.assess(
        [group, blank(), in_frame(lfw(faces, "Colin_Powell_0013"))], lfw(faces, "Colin_Powell_0012")
    )
    assert result.live_faces[0] >= 2
    assert result.live_faces[1:] == (0, 1)
    assert result.result.matched


def test_blank_live_frame_fails_closed(verifier: FaceRecognitionVerifier, faces: Path) -> None:
    assessment = verifier.assess([blank()], lfw(faces, "Colin_Powell_0012"))
    assert assessment.reference_faces == 1
    assert assessment.live_faces == (0,)
    assert assessment.result.matched is False
    assert assessment.result.score == 0.0


def test_reference_without_face_fails_closed(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    live = [in_frame(lfw(faces, "Colin_Powell_0013"))]
    assert verifier.verify(live, lfw(faces, "Colin_Powell_0012")).matched  # control
    assessment = verifier.assess(live, blank())
    assert assessment.reason == "reference_no_face"
    assert assessment.result.matched is False
    assert assessment.result.score == 0.0


def test_reference_with_several_faces_fails_closed(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    reference = _load(faces / "multi_face" / "obama_and_biden.jpg", max_side=640)
    live = [_load(faces / "derived_same_photo" / "obama-480p.jpg", max_side=640)]
    assessment = verifier.assess(live, reference)
    assert assessment.reason == "reference_several_faces"
    assert assessment.result.matched is False
    assert assessment.result.score == 0.0


def test_no_live_frames_fails_closed(verifier: FaceRecognitionVerifier, faces: Path) -> None:
    result = verifier.verify([], lfw(faces, "Colin_Powell_0012"))
    assert result.matched is False
    assert result.score == 0.0


def test_only_the_first_max_live_frames_are_examined(faces: Path) -> None:
    live = [blank(), in_frame(lfw(faces, "Colin_Powell_0013"))]
    reference = lfw(faces, "Colin_Powell_0012")
    assert FaceRecognitionVerifier(max_live_frames=2).verify(live, reference).matched
    first_only = FaceRecognitionVerifier(max_live_frames=1).assess(live, reference)
    assert first_only.live_faces == (0,)
    assert not first_only.result.matched


# --- image formats and sizes ---------------------------------------------------------------


def test_rgba_image_is_accepted(verifier: FaceRecognitionVerifier, faces: Path) -> None:
    rgba = _load(faces / "derived_same_photo" / "32bit.png", mode="RGBA", max_side=640)
    assert rgba.shape[2] == 4
    before = rgba.copy()
    other_photo = _load(faces / "derived_same_photo" / "obama-480p.jpg", max_side=640)
    assert verifier.verify([other_photo], rgba).matched
    assert verifier.verify([rgba], other_photo).matched
    np.testing.assert_array_equal(rgba, before)


def test_non_contiguous_views_give_the_same_result(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    reference = lfw(faces, "Colin_Powell_0012")
    frame = in_frame(lfw(faces, "Colin_Powell_0013"))
    # A BGR buffer seen as RGB through a reversed-channel view, and a window into a larger buffer.
    channel_view = frame[:, :, ::-1].copy()[:, :, ::-1]
    canvas = np.zeros((FRAME_H + 100, FRAME_W + 100, 3), dtype=np.uint8)
    canvas[50:-50, 50:-50] = frame
    window = canvas[50:-50, 50:-50]
    assert not channel_view.flags.c_contiguous
    assert not window.flags.c_contiguous
    expected = verifier.verify([frame], reference)
    assert expected.matched
    for view in (channel_view, window):
        result = verifier.verify([view], reference)
        assert result.matched
        assert result.score == pytest.approx(expected.score, abs=1e-9)
    ref_view = reference[:, :, ::-1].copy()[:, :, ::-1]
    assert verifier.verify([frame], ref_view).score == pytest.approx(expected.score, abs=1e-9)


def test_small_image_is_upscaled_before_detection(faces: Path) -> None:
    # A 28 x 28 thumbnail: the HOG detector (upsampling once) misses a face this small.
    tiny = np.asarray(Image.fromarray(lfw(faces, "Tony_Blair_0013")).resize((28, 28)))
    live = [lfw(faces, "Tony_Blair_0012")]
    without = FaceRecognitionVerifier(min_detection_side=0).assess(live, tiny)
    assert without.reason == "reference_no_face"
    with_upscale = FaceRecognitionVerifier().assess(live, tiny)
    assert with_upscale.reference_faces == 1
    assert with_upscale.live_faces == (1,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int64, np.bool_])
def test_wrong_dtype_raises_clear_error(
    verifier: FaceRecognitionVerifier, dtype: type[np.generic]
) -> None:
    bad = np.zeros((FRAME_H, FRAME_W, 3), dtype=dtype)
    with pytest.raises(ImageFormatError, match=r"live\[1\].*uint8.*" + np.dtype(dtype).name):
        verifier.verify([blank(), bad], blank())
    with pytest.raises(ImageFormatError, match=r"reference.*uint8"):
        verifier.verify([blank()], bad)


@pytest.mark.parametrize(
    "shape", [(FRAME_H, FRAME_W), (FRAME_H, FRAME_W, 1), (FRAME_H, FRAME_W, 5), (0, FRAME_W, 3)]
)
def test_wrong_shape_raises_clear_error(
    verifier: FaceRecognitionVerifier, shape: tuple[int, ...]
) -> None:
    with pytest.raises(ImageFormatError, match=r"live\[0\].*shape"):
        verifier.verify([np.zeros(shape, dtype=np.uint8)], blank())


def test_non_array_raises_clear_error(verifier: FaceRecognitionVerifier) -> None:
    with pytest.raises(ImageFormatError, match=r"reference: expected a numpy.ndarray, got list"):
        verifier.verify([blank()], [[0, 0, 0]])  # type: ignore[arg-type]


def test_image_format_error_is_a_value_error() -> None:
    assert issubclass(ImageFormatError, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.0},
        {"threshold": 1.5},
        {"threshold": float("nan")},
        {"min_detection_side": -1},
        {"upsample_times": -1},
        {"max_live_frames": 0},
    ],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FaceRecognitionVerifier(**kwargs)  # type: ignore[arg-type]


# --- privacy -------------------------------------------------------------------------------


def test_nothing_is_logged_or_kept(
    verifier: FaceRecognitionVerifier, faces: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = verifier.verify(
        [in_frame(lfw(faces, "Colin_Powell_0013"))], lfw(faces, "Colin_Powell_0012")
    )
    assert result.matched
    assert caplog.records == []
    assert not any(isinstance(value, np.ndarray) for value in vars(verifier).values())
    assert set(result.model_dump()) == {"matched", "score", "liveness"}


# --- compare() and the encoding cache ------------------------------------------------------


def test_default_threshold_is_the_calibrated_one() -> None:
    assert FaceRecognitionVerifier().threshold == CALIBRATED_THRESHOLD
    assert 0.0 < CALIBRATED_THRESHOLD <= 1.0


def test_compare_gives_the_distance_behind_the_score(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    probe, reference = in_frame(lfw(faces, "Colin_Powell_0013")), lfw(faces, "Colin_Powell_0012")
    comparison = verifier.compare(probe, reference)
    assert comparison.matched
    assert comparison.error is None
    assert comparison.distance is not None
    assert comparison.threshold == verifier.threshold
    assert (comparison.probe_faces, comparison.reference_faces) == (1, 1)
    assert verifier.verify([probe], reference).score == pytest.approx(1 - comparison.distance)
    impostor = verifier.compare(in_frame(lfw(faces, "Hugo_Chavez_0012")), reference)
    assert impostor.distance is not None
    assert impostor.distance > verifier.threshold
    assert not impostor.matched
    assert impostor.to_json()["match"] is False
    assert "error" not in impostor.to_json()


def test_compare_counts_faces_on_both_sides_and_fails_closed(
    verifier: FaceRecognitionVerifier, faces: Path
) -> None:
    group = _load(faces / "multi_face" / "two_people.jpg", max_side=640)
    comparison = verifier.compare(blank(), group)
    assert comparison.probe_faces == 0
    assert comparison.reference_faces >= 2
    assert not comparison.matched
    assert comparison.distance is None
    assert comparison.error is not None
    assert "probe: no face found" in comparison.error
    assert "reference:" in comparison.error
    with pytest.raises(ImageFormatError, match="probe"):
        verifier.compare(np.zeros((4, 4), np.uint8), blank())


def test_encoding_cache_encodes_each_key_once(
    verifier: FaceRecognitionVerifier, faces: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = {
        "a": in_frame(lfw(faces, "Colin_Powell_0013")),
        "b": lfw(faces, "Colin_Powell_0012"),
    }
    loads: list[str] = []

    def load(key: object) -> RGBImage:
        loads.append(str(key))
        if key not in images:
            raise ImageFormatError("cannot read it")
        return images[str(key)]

    calls = 0
    encode = FaceRecognitionVerifier._encode_exactly_one

    def counting(self: FaceRecognitionVerifier, image: RGBImage) -> object:
        nonlocal calls
        calls += 1
        return encode(self, image)

    monkeypatch.setattr(FaceRecognitionVerifier, "_encode_exactly_one", counting)
    cache = EncodingCache(verifier, load)
    first = cache.compare("a", "b")
    again = cache.compare("a", "b")
    swapped = cache.compare("b", "a")
    broken = cache.compare("x", "b")
    assert loads == ["a", "b", "x"]
    assert calls == 2
    assert first.matched
    assert again == first
    assert swapped.distance == pytest.approx(first.distance)
    assert not broken.matched
    assert broken.error == "probe: cannot read it"
    assert (broken.probe_faces, broken.reference_faces) == (0, 1)
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0
