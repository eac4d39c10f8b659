"""The kiosk's face capture for one transaction: quality guidance, the best frames, liveness.

:class:`FaceCaptureFlow` is a synchronous state machine fed one analysed frame at a time:

1. **Quality**: until ``min_good`` good frames (one face, big enough, frontal, lit, sharp) were
   seen, it prompts the guidance key of the current problem (``move_closer``, ``face_camera``,
   ``one_person_only``, ``more_light``, ``hold_still``), each time the problem changes. It gives
   up after ``quality_budget_s`` of camera time (the face was not captured).
2. **Challenge**: the traveller's frontal baseline (median yaw of the good frames) anchors a
   :class:`~kiosk.biometrics.liveness.LivenessCheck`, which then drives the prompts; it gets
   every frame too, for its parallax test.
3. The ``keep`` best good frontal frames (by :attr:`FaceObservation.quality`) from the quality
   phase and the challenge's holds are kept for verification, with their face boxes; every
   other frame is dropped at once.

:func:`capture_live_face` runs the flow against a camera: each frame is analysed in a worker
thread, each prompt goes to ``prompt`` (the session's screen updates), until the flow is done.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from bordergate.clearance_api import FaceResult
from hardware_mocks.interfaces import Camera

from . import ReferenceTemplate, RGBImage
from .capture import FaceAnalyzer, FaceObservation
from .liveness import Challenge, LivenessCheck, LivenessLimits, Phase


@dataclass(frozen=True, slots=True, eq=False)
class LiveFrame:
    """A good frame kept for verification: the image and where its face is (no encoding)."""

    image: RGBImage = field(repr=False)
    box: tuple[int, int, int, int]
    quality: float


@dataclass(slots=True, eq=False)
class CaptureOutcome:
    captured: bool
    liveness: Literal["passed", "failed", "not_checked"]
    reason: str
    """Why, in non-biometric words (safe to log)."""
    frames: list[LiveFrame]
    """Best first; empty if not captured."""
    frames_seen: int = 0


class FaceCaptureFlow:
    def __init__(
        self,
        challenge: Challenge | None,
        *,
        liveness_limits: LivenessLimits | None = None,
        min_good: int = 3,
        keep: int = 1,
        quality_budget_s: float = 6.0,
    ) -> None:
        self.challenge = challenge
        self.liveness_limits = liveness_limits
        self.min_good = min_good
        self.keep = keep
        self.quality_budget_s = quality_budget_s
        self.check: LivenessCheck | None = None
        self._good: list[FaceObservation] = []
        self._best: list[LiveFrame] = []
        self._start: float | None = None
        self._shown: str | None = None
        self._last_problem = "face_camera"
        self.frames_seen = 0
        self.outcome: CaptureOutcome | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def feed(self, obs: FaceObservation, image: RGBImage) -> str | None:
        """One analysed frame; returns a prompt key to show now, or None (no change)."""
        if self.done:
            return None
        self.frames_seen += 1
        if self._start is None:
            self._start = obs.t
        if self.check is None:
            return self._quality(obs, image)
        if self.check.phase is Phase.HOLD and obs.good and obs.box is not None:
            # Frontal and still while waiting for a prompt: as good a candidate as any.
            self._keep(LiveFrame(image, obs.box, obs.quality))
        prompt = self.check.feed(obs, image)
        if self.check.done:
            passed = bool(self.check.passed)
            self._finish(True, "passed" if passed else "failed", self.check.reason)
        return self._show(prompt)

    def _show(self, key: str | None) -> str | None:
        if key is None or key == self._shown:
            return None
        self._shown = key
        return key

    def _quality(self, obs: FaceObservation, image: RGBImage) -> str | None:
        assert self._start is not None
        if obs.good and obs.box is not None:
            self._good.append(obs)
            self._keep(LiveFrame(image, obs.box, obs.quality))
            if len(self._good) >= self.min_good:
                if self.challenge is None:
                    self._finish(True, "not_checked", "captured")
                    return None
                base_yaw = statistics.median(o.yaw for o in self._good)
                self.check = LivenessCheck(self.challenge, base_yaw, self.liveness_limits)
                return self._show("hold_still")
            return self._show("hold_still")
        if obs.problem is not None:
            self._last_problem = obs.problem
        if obs.t - self._start > self.quality_budget_s:
            self._finish(False, "not_checked", f"no good frame in time ({self._last_problem})")
            return None
        if not obs.good:
            self._good.clear()  # good frames must come in a row
        return self._show(obs.problem)

    def _keep(self, frame: LiveFrame) -> None:
        self._best.append(frame)
        self._best.sort(key=lambda f: f.quality, reverse=True)
        del self._best[self.keep :]

    def _finish(
        self, captured: bool, liveness: Literal["passed", "failed", "not_checked"], reason: str
    ) -> None:
        frames = list(self._best) if captured else []
        self._best.clear()
        self._good.clear()
        self.outcome = CaptureOutcome(captured, liveness, reason, frames, self.frames_seen)


async def capture_live_face(
    camera: Camera,
    analyzer: FaceAnalyzer,
    flow: FaceCaptureFlow,
    prompt: Callable[[str | None], None],
    *,
    max_frames: int = 200,
) -> CaptureOutcome:
    """Capture and analyse frames until ``flow`` is done (or ``max_frames``: not captured)."""
    for _ in range(max_frames):
        frame = await camera.capture()
        obs = await asyncio.to_thread(analyzer.observe, frame.image, frame.timestamp)
        key = flow.feed(obs, frame.image)
        del frame
        if key is not None:
            prompt(key)
        if flow.outcome is not None:
            return flow.outcome
    return CaptureOutcome(False, "not_checked", f"no decision within {max_frames} frames", [])


@runtime_checkable
class LiveFaceVerifier(Protocol):
    """A :class:`~kiosk.biometrics.FaceVerifier` that can also analyse a live capture: the
    session then runs capture, guidance and liveness (:func:`capture_live_face`)."""

    def verify(self, live: Sequence[RGBImage], reference: RGBImage) -> FaceResult: ...

    def analyzer(self) -> FaceAnalyzer: ...

    def encode_reference(self, reference: RGBImage) -> ReferenceTemplate:
        """The reference's template, made while the capture runs; passed to verify_live."""
        ...

    def verify_live(
        self,
        frames: Sequence[LiveFrame],
        reference: RGBImage | ReferenceTemplate,
        liveness: Literal["passed", "failed", "not_checked"] = "not_checked",
    ) -> FaceResult: ...


class Scene(Protocol):
    """Something that renders what the camera sees and reacts to prompts (a mock actor)."""

    def frame(self, t: float) -> RGBImage: ...

    def on_prompt(self, key: str | None, t: float) -> None: ...


def run_offline(
    scene: Scene,
    analyzer: FaceAnalyzer,
    flow: FaceCaptureFlow,
    *,
    fps: float = 10.0,
    max_frames: int = 200,
    t0: float = 0.0,
) -> CaptureOutcome:
    """Like :func:`capture_live_face`, synchronously on a scene at ``fps`` (benchmarks, tests)."""
    for i in range(max_frames):
        t = t0 + i / fps
        image = scene.frame(t)
        key = flow.feed(analyzer.observe(image, t), image)
        del image
        if key is not None:
            scene.on_prompt(key, t)
        if flow.outcome is not None:
            return flow.outcome
    return CaptureOutcome(False, "not_checked", f"no decision within {max_frames} frames", [])
