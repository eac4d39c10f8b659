"""Per-frame analysis and guidance on rendered frames (astronaut always; LFW faces if present)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hardware_mocks.face_video import LiveActor, StaticScene
from kiosk.biometrics.capture import GUIDANCE_KEYS, FaceAnalyzer
from kiosk.biometrics.face_match import FaceRecognitionVerifier
from kiosk.biometrics.live_capture import FaceCaptureFlow, run_offline


@pytest.fixture(scope="module")
def verifier() -> FaceRecognitionVerifier:
    return FaceRecognitionVerifier()


@pytest.fixture(scope="module")
def astronaut_face() -> np.ndarray:
    """The astronaut's face, cropped square and sized like the mock's live faces."""
    crop = data.astronaut()[40:200, 150:310]  # type: ignore[no-untyped-call]
    return np.asarray(Image.fromarray(crop).resize((250, 250), Image.Resampling.LANCZOS))


def test_the_guidance_keys_are_stable() -> None:
    assert GUIDANCE_KEYS == (
        "move_closer", "face_camera", "hold_still", "one_person_only", "more_light",
        "turn_left", "turn_right", "look_straight",
    )  # fmt: skip


def observe(verifier: FaceRecognitionVerifier, image: np.ndarray) -> tuple[FaceAnalyzer, str]:
    analyzer = verifier.analyzer()
    obs = analyzer.observe(np.ascontiguousarray(image), 0.0)
    return analyzer, str(obs.problem)


def test_a_good_frontal_face_has_no_problem(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    frame = LiveActor(astronaut_face, seed=1).frame(0.0)
    obs = verifier.analyzer().observe(frame, 0.0)
    assert obs.faces == 1
    assert obs.problem is None, obs
    assert obs.iod > 55
    assert abs(obs.yaw) < 0.15


def test_too_far_asks_to_come_closer(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    far = LiveActor(astronaut_face, seed=1, start_size=120).frame(0.0)
    assert observe(verifier, far)[1] == "move_closer"


def test_a_turned_head_is_asked_to_face_the_camera(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    turned = LiveActor(astronaut_face, seed=1, start_yaw=32).frame(0.0)
    assert observe(verifier, turned)[1] == "face_camera"


def test_two_faces_ask_for_one_person_only(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    frame = np.full((480, 640, 3), 190, dtype=np.uint8)
    small = np.asarray(Image.fromarray(astronaut_face).resize((200, 200)))
    frame[140:340, 40:240] = small
    frame[140:340, 400:600] = small
    assert observe(verifier, frame)[1] == "one_person_only"


def test_a_dark_face_asks_for_more_light(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    frame = LiveActor(astronaut_face, seed=1, background=(40, 40, 40)).frame(0.0)
    dark = (frame.astype(np.float64) * 0.3).astype(np.uint8)
    assert observe(verifier, dark)[1] == "more_light"


def test_a_blurred_face_asks_to_hold_still(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    from scipy import ndimage

    frame = LiveActor(astronaut_face, seed=1).frame(0.0)
    assert observe(verifier, ndimage.gaussian_filter(frame, sigma=(2, 2, 0)))[1] == "None"
    assert observe(verifier, ndimage.gaussian_filter(frame, sigma=(5, 5, 0)))[1] == "hold_still"


def test_no_face_asks_to_face_the_camera(verifier: FaceRecognitionVerifier) -> None:
    _, problem = observe(verifier, np.full((480, 640, 3), 128, dtype=np.uint8))
    assert problem == "face_camera"


def test_the_flow_guides_a_far_traveller_closer_then_captures(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    actor = LiveActor(astronaut_face, seed=2, start_size=120)
    prompts: list[str] = []

    class Watching:
        def frame(self, t: float) -> np.ndarray:
            return actor.frame(t)

        def on_prompt(self, key: str | None, t: float) -> None:
            prompts.append(str(key))
            actor.on_prompt(key, t)

    out = run_offline(Watching(), verifier.analyzer(), FaceCaptureFlow(None))
    assert prompts[0] == "move_closer"
    assert out.captured
    assert out.liveness == "not_checked"
    assert 1 <= len(out.frames) <= 3


def test_nobody_is_not_captured(verifier: FaceRecognitionVerifier) -> None:
    empty = StaticScene(np.full((480, 640, 3), 190, dtype=np.uint8))
    out = run_offline(empty, verifier.analyzer(), FaceCaptureFlow(None, quality_budget_s=1.0))
    assert not out.captured
    assert out.frames == []
    assert "face_camera" in out.reason


def test_tracking_runs_the_detector_only_every_few_frames(
    verifier: FaceRecognitionVerifier, astronaut_face: np.ndarray
) -> None:
    actor = LiveActor(astronaut_face, seed=3)
    analyzer = verifier.analyzer()
    for i in range(12):
        assert analyzer.observe(actor.frame(i / 10), i / 10).faces == 1
    assert analyzer.detections <= 4
