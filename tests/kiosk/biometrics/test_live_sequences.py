"""Whole captures on the camera mock's sequences: live people pass, each attack is rejected,
an impostor does not match (slow: dlib on every frame)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hardware_mocks.face_video import LiveActor, PhoneReplayActor, PrintedPhotoActor
from hardware_mocks.travellers import render_portrait
from kiosk.biometrics.face_match import FaceRecognitionVerifier
from kiosk.biometrics.live_capture import CaptureOutcome, FaceCaptureFlow, Scene, run_offline
from kiosk.biometrics.liveness import Challenge, random_challenge

pytestmark = pytest.mark.slow


def _print_still(face: np.ndarray, seed: int) -> Scene:
    return PrintedPhotoActor(face, moving=False, seed=seed)


def _print_moved(face: np.ndarray, seed: int) -> Scene:
    return PrintedPhotoActor(face, moving=True, seed=seed)


def _replay(face: np.ndarray, seed: int) -> Scene:
    return PhoneReplayActor(face, seed=seed)


ATTACKS: dict[str, Callable[[np.ndarray, int], Scene]] = {
    "print_still": _print_still,
    "print_moved": _print_moved,
    "replay": _replay,
}


@pytest.fixture(scope="module")
def verifier() -> FaceRecognitionVerifier:
    return FaceRecognitionVerifier()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    pixels = data.astronaut()[40:200, 150:310]  # type: ignore[no-untyped-call]
    return np.asarray(Image.fromarray(pixels).resize((250, 250), Image.Resampling.LANCZOS))


def capture(
    verifier: FaceRecognitionVerifier, scene: Scene, challenge: Challenge
) -> CaptureOutcome:
    return run_offline(scene, verifier.analyzer(), FaceCaptureFlow(challenge))


def test_live_travellers_pass_and_match(
    verifier: FaceRecognitionVerifier, astronaut: np.ndarray
) -> None:
    """Ten live presentations (seeds 0-9, every seed run): at least 8 pass. The live-rejection
    rate (BPCER) is not yet at the issue's 3% (benchmarks/face.py measures it); this keeps it
    from getting worse, and every presentation that passes liveness must also match."""
    portrait = data.astronaut()[0:300, 100:360]  # type: ignore[no-untyped-call]
    reference = np.ascontiguousarray(portrait)
    rejected: dict[int, str] = {}
    for seed in range(10):
        scene = LiveActor(astronaut, seed=seed)
        out = capture(verifier, scene, random_challenge(random.Random(seed)))
        assert out.captured, (seed, out.reason)
        if out.liveness != "passed":
            rejected[seed] = out.reason
            continue
        assert 1 <= len(out.frames) <= 3
        result = verifier.verify_live(out.frames, reference, out.liveness)
        assert result.matched, seed
        assert result.liveness == "passed"
    assert len(rejected) <= 2, rejected


# Seeds 0-9 were run for each attack: all fail (before the parallax turn measure and the
# reaction windows, the replay passed on seeds 7 and 8).
@pytest.mark.parametrize("kind", sorted(ATTACKS))
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_each_attack_is_rejected(
    verifier: FaceRecognitionVerifier, astronaut: np.ndarray, kind: str, seed: int
) -> None:
    scene = ATTACKS[kind](astronaut, seed)
    out = capture(verifier, scene, random_challenge(random.Random(seed)))
    assert out.captured, out.reason  # the face is seen: it is the liveness that refuses it
    assert out.liveness == "failed", out.reason


@pytest.mark.parametrize("seed", [7, 8])
def test_replays_that_used_to_fit_are_rejected(
    verifier: FaceRecognitionVerifier, astronaut: np.ndarray, seed: int
) -> None:
    out = capture(verifier, _replay(astronaut, seed), random_challenge(random.Random(seed)))
    assert out.captured, out.reason
    assert out.liveness == "failed", out.reason


class _Recorded:
    """A scene that records the prompts it is shown (and passes them on)."""

    def __init__(self, scene: LiveActor) -> None:
        self.scene = scene
        self.prompts: list[tuple[float, str | None]] = []

    def frame(self, t: float) -> np.ndarray:
        return self.scene.frame(t)

    def on_prompt(self, key: str | None, t: float) -> None:
        self.prompts.append((t, key))
        self.scene.on_prompt(key, t)


def test_known_gap_a_recording_that_fits_the_challenge_passes(
    verifier: FaceRecognitionVerifier, astronaut: np.ndarray
) -> None:
    """Known gap, by design: a replayed video has real parallax, and only the challenge's
    timing refuses it. A recording of the traveller answering this very challenge (the
    directions and times the kiosk draws afresh, unpredictably, each time) passes: on the
    mock, a looped recording fits a random challenge by chance in about 0.3% of presentations
    (benchmarks/face.py)."""
    challenge = random_challenge(random.Random(3))
    original = _Recorded(LiveActor(astronaut, seed=3))
    assert capture(verifier, original, challenge).liveness == "passed"
    replay = PhoneReplayActor(astronaut, seed=3)
    replay.recording = LiveActor(astronaut, seed=3)  # the same person, the same reactions
    for t, key in original.prompts:
        replay.recording.on_prompt(key, t)
    replay.loop_s, replay.phase = 1e9, 0.0  # played from the start, as the kiosk begins
    out = capture(verifier, replay, challenge)
    assert out.captured, out.reason
    assert out.liveness == "passed", out.reason


def test_lfw_travellers_live_pass_and_attacks_fail(
    verifier: FaceRecognitionVerifier, test_data_dir: Path
) -> None:
    crops = test_data_dir / "faces" / "lfw_crops"
    photos = sorted(crops.glob("colin_powell/*.jpg"))[:3]
    others = sorted(crops.glob("tony_blair/*.jpg"))[:1]
    if len(photos) < 3 or not others:
        pytest.skip("LFW crops of colin_powell and tony_blair not found")
    face = np.asarray(Image.open(photos[2]).convert("RGB").resize((250, 250)), dtype=np.uint8)
    reference = render_portrait(photos[0])
    live = capture(verifier, LiveActor(face, seed=5), random_challenge(random.Random(5)))
    assert live.liveness == "passed", live.reason
    from_photo = verifier.verify_live(live.frames, reference, live.liveness)
    assert from_photo.matched
    # The template the kiosk makes while the capture runs decides exactly as the photo does.
    template = verifier.encode_reference(reference)
    assert template.faces == 1
    assert verifier.verify_live(live.frames, template, live.liveness) == from_photo
    assert repr(template) == "ReferenceTemplate(faces=1)"  # no number of the encoding
    for kind, make in ATTACKS.items():
        out = capture(verifier, make(face, 5), random_challenge(random.Random(5)))
        assert out.liveness != "passed", kind
    # An impostor: a live person, but someone else.
    other = np.asarray(Image.open(others[0]).convert("RGB").resize((250, 250)), dtype=np.uint8)
    imp = capture(verifier, LiveActor(other, seed=6), random_challenge(random.Random(6)))
    assert not verifier.verify_live(imp.frames, reference, imp.liveness).matched


def test_verify_live_fails_closed(verifier: FaceRecognitionVerifier, astronaut: np.ndarray) -> None:
    blank = np.full((360, 300, 3), 200, dtype=np.uint8)
    assert verifier.verify_live([], blank, "passed").matched is False
    result = verifier.verify_live([], blank, "failed")
    assert (result.matched, result.score, result.liveness) == (False, 0.0, "failed")
    # A reference without a face makes an empty template: every frame then fails closed.
    empty = verifier.encode_reference(blank)
    assert (empty.faces, empty.encoding) == (0, None)
    live = capture(verifier, LiveActor(astronaut, seed=3), random_challenge(random.Random(3)))
    assert live.frames
    result = verifier.verify_live(live.frames, empty, "passed")
    assert (result.matched, result.score) == (False, 0.0)
