"""The face step with the real verifier, the mock camera's actors and the liveness challenge."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np
import pytest
import structlog
from PIL import Image

from bordergate.contracts import ReasonCode
from bordergate.demo_faces import stand_in_faces
from hardware_mocks.face_video import LiveActor, PrintedPhotoActor
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.biometrics import ReferenceTemplate
from kiosk.biometrics.face_match import FaceRecognitionVerifier
from kiosk.biometrics.liveness import Challenge, random_challenge
from kiosk.runner import fan_out
from kiosk.session import KioskSession, SessionState, SessionUpdate
from kiosk.settings import KioskSettings
from tests.kiosk.conftest import RecordingBackend

pytestmark = pytest.mark.slow

NO_ATTACKS = PopulationMix(
    citizens=1.0, expired=0.0, forged_check_digit=0.0, impostors=0.0, walk_away=0.0,
    print_still=0.0, print_moved=0.0, replay=0.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def verifier() -> FaceRecognitionVerifier:
    return FaceRecognitionVerifier()


@pytest.fixture
def astronaut(tmp_path: Path) -> Path:
    """Two 'photos' of one identity (the astronaut) for a factory that needs no shared data:
    the demo's own stand-in."""
    return stand_in_faces(tmp_path / "faces")


@pytest.fixture(autouse=True)
def seeded_challenge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kiosk draws its challenge from the system's generator; tests need it repeatable."""
    import kiosk.session

    def seeded(turns: int = 3) -> Challenge:
        return random_challenge(random.Random(CHALLENGE_SEED), turns=turns)

    monkeypatch.setattr(kiosk.session, "random_challenge", seeded)


CHALLENGE_SEED = 2
ACTOR_SEED = 2


async def run_face(
    settings: KioskSettings,
    verifier: FaceRecognitionVerifier,
    faces: Path,
    attack: str | None = None,
) -> tuple[KioskSession, list[SessionUpdate], RecordingBackend, MockLane]:
    traveller = TravellerFactory(seed=4, faces_dir=faces, mix=NO_ATTACKS).next()
    lane = MockLane(settings.lane_id, speed=settings.speed, seed=3)
    lane.present(traveller)
    face = np.asarray(
        Image.open(traveller.live_photo_path or "").convert("RGB").resize((250, 250)),
        dtype=np.uint8,
    )
    if attack == "nobody":
        lane.camera.present(None)
    elif attack is not None:
        lane.camera.present(PrintedPhotoActor(face, moving=attack == "print_moved", seed=2))
    else:
        lane.camera.present(LiveActor(face, seed=ACTOR_SEED))
    updates: list[SessionUpdate] = []
    backend = RecordingBackend()
    client = backend.client()
    kept: list[tuple[int, ...] | None] = []

    def watch(update: SessionUpdate) -> None:
        # What the session holds for the officer once the face step is over.
        if update.state is SessionState.DECISION:
            live = session._referral_live
            kept.append(None if live is None else live.shape)

    session = KioskSession(
        settings, lane.devices, client, verifier,
        observer=fan_out(lane.observe, updates.append, watch),
        traveller_ref=traveller.traveller_ref,
    )  # fmt: skip
    session.kept_live_shapes = kept  # type: ignore[attr-defined]
    async with client:
        await session.run()
    return session, updates, backend, lane


async def test_a_live_traveller_passes_liveness_and_matches(
    settings: KioskSettings, verifier: FaceRecognitionVerifier, astronaut: Path
) -> None:
    settings = settings.model_copy(update={"verify_timeout_s": 5.0})
    session, updates, backend, lane = await run_face(settings, verifier, astronaut)
    face = backend.requests[0]["face"]
    assert face["liveness"] == "passed"
    assert face["matched"] is True
    prompts = [u.prompt for u in updates if u.prompt]
    assert {"turn_left", "turn_right", "look_straight"} <= set(prompts)
    # As many turns as the kiosk is set to ask for, each answered and looked back from.
    turns = [p for p in prompts if p.startswith("turn_")]
    assert len(turns) == settings.face_challenge_turns == 3
    assert prompts.count("look_straight") == len(turns)
    # The actor saw the same prompts, through the lane.
    assert [k for _, k in lane.camera.prompts] == prompts
    assert session.kept_live_shapes == [(480, 640, 3)]  # type: ignore[attr-defined]
    assert session._referral_live is None  # dropped when the transaction ended


async def test_a_printed_photo_fails_liveness(
    settings: KioskSettings, verifier: FaceRecognitionVerifier, astronaut: Path
) -> None:
    settings = settings.model_copy(update={"verify_timeout_s": 5.0})
    _, _, backend, _ = await run_face(settings, verifier, astronaut, attack="print_still")
    face = backend.requests[0]["face"]
    assert face["liveness"] == "failed"


async def test_nobody_at_the_camera_is_not_captured(
    settings: KioskSettings, verifier: FaceRecognitionVerifier, astronaut: Path
) -> None:
    traveller = TravellerFactory(seed=4, faces_dir=astronaut, mix=NO_ATTACKS).next()
    lane = MockLane(settings.lane_id, speed=settings.speed, seed=3)
    lane.present(traveller)
    lane.camera.present(None)
    backend = RecordingBackend()
    client = backend.client()
    session = KioskSession(settings, lane.devices, client, verifier)
    async with client:
        result = await session.run()
    assert result.reasons == [ReasonCode.FACE_NOT_CAPTURED]
    assert backend.requests == []


async def test_nothing_biometric_is_logged(
    settings: KioskSettings,
    verifier: FaceRecognitionVerifier,
    astronaut: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings.model_copy(update={"verify_timeout_s": 5.0})
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        await run_face(settings, verifier, astronaut)
    assert events, "the session logs its states"
    text = repr(events) + caplog.text
    assert "ndarray" not in text
    assert "array(" not in text
    for event in events:
        for value in event.values():
            assert not isinstance(value, np.ndarray | bytes | bytearray)
            # No encoding (128 floats) or landmark list in any field.
            if isinstance(value, list | tuple):
                assert len(value) < 16
                assert not any(isinstance(v, float) for v in value)
    assert any(e.get("event") == "face captured" for e in events)


class TimedVerifier(FaceRecognitionVerifier):
    """The real verifier, noting when the reference is encoded and what verify_live gets."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, float, object]] = []

    def encode_reference(self, reference: np.ndarray) -> ReferenceTemplate:
        self.events.append(("encode_start", time.monotonic(), None))
        template = super().encode_reference(reference)
        self.events.append(("encode_end", time.monotonic(), None))
        return template

    def verify_live(self, frames, reference, liveness="not_checked"):  # type: ignore[no-untyped-def]
        self.events.append(("verify", time.monotonic(), type(reference).__name__))
        return super().verify_live(frames, reference, liveness)


async def test_the_reference_is_encoded_while_the_traveller_faces_the_camera(
    settings: KioskSettings, astronaut: Path
) -> None:
    verifier = TimedVerifier()
    settings = settings.model_copy(update={"verify_timeout_s": 5.0})
    _, _, backend, _ = await run_face(settings, verifier, astronaut)
    assert backend.requests[0]["face"]["matched"] is True
    # Encoded once, during the capture: the decision only waits for the live frames' encodings.
    kinds = [kind for kind, _, _ in verifier.events]
    assert kinds == ["encode_start", "encode_end", "verify"]
    at = {kind: t for kind, t, _ in verifier.events}
    assert at["encode_end"] < at["verify"]
    assert verifier.events[2][2] == "ReferenceTemplate"


class BrokenReferenceVerifier(FaceRecognitionVerifier):
    """The real verifier, whose reference encoding fails (a bad photo, a native error)."""

    def encode_reference(self, reference: np.ndarray) -> ReferenceTemplate:
        raise RuntimeError("encoder failed")


async def test_a_failed_reference_encoding_refers(settings: KioskSettings, astronaut: Path) -> None:
    settings = settings.model_copy(update={"verify_timeout_s": 5.0})
    session, updates, backend, _ = await run_face(settings, BrokenReferenceVerifier(), astronaut)
    # Fail closed: a live traveller whose photo would match is referred, and never asked about.
    assert backend.requests == []
    assert session.kept_live_shapes == []  # type: ignore[attr-defined]
    referred = [u for u in updates if u.state is SessionState.REFER]
    assert referred
    assert referred[0].reasons == [ReasonCode.FACE_NOT_CAPTURED]
