"""Presentation-attack detection: a randomised active challenge, checked by 3D parallax.

The kiosk picks the challenge (:func:`random_challenge`): the directions of the head turns, how
long the traveller must hold still, facing the camera, before each prompt, and how long to
keep the head turned before being asked to look straight again. The traveller sees
``turn_left`` / ``turn_right`` and ``look_straight`` on the screen. :class:`LivenessCheck` is fed
one :class:`~kiosk.biometrics.capture.FaceObservation` per frame (with the frame itself), says
which prompt to show, and decides.

Every turn is measured by :func:`~kiosk.biometrics.parallax.parallax` against the step's
*anchor*, a frontal frame of the hold before it: the optical flow of the whole face, less what
one homography (any picture, however held) explains; what is left is how far the nose moved
sideways out of the face, signed by the direction of the turn (``turn``). A flat picture leaves
nothing, however it is tilted; the 5-point landmarks of some faces hardly follow a turn, the
flow does. The landmark yaw only decides when a measurement is worth its CPU (about 8 ms).

1. **Hold**: while the traveller holds before a prompt, no turn (measured every
   ``hold_every`` frames, and whenever the landmark yaw moves).
2. **Response**: the nose turns ``turn`` or more the asked way, on ``turned_frames``
   measurements in a row, first reaching it between ``min_reaction_s`` (nobody reads and
   reacts faster) and ``reach_timeout_s`` after the prompt (people react within about a
   second), never the other way.
3. **Look back**: the head stays turned until ``look_straight`` is shown (after the
   challenge's random ``turned_holds_s``, if any) and comes back only after the traveller
   could read that prompt, starting within ``reach_timeout_s`` and frontal again within
   ``return_timeout_s``.
4. **Continuity**: one face throughout, never lost for longer than ``max_gap_s``, never jumping
   (a face swapped in).

A replayed video of the traveller turning has real parallax (the screen shows a real head):
only the timing (1-3) refuses it, and a looped recording fits a random challenge by chance:
each timed prompt it must answer makes a fit rarer.

Any failure ends the check with a short, non-biometric reason (safe to log).
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from typing import Literal, Protocol, cast

from . import RGBImage
from .capture import FaceObservation, Floats
from .parallax import Parallax, Reference, parallax, reference

Turn = Literal["turn_left", "turn_right"]


class Meter(Protocol):
    """Measures later frames against a frontal one (:mod:`kiosk.biometrics.parallax`)."""

    def prepare(self, image: RGBImage, points: Floats) -> object | None:
        """The anchor for a frontal frame, or None if it cannot be measured against."""
        ...

    def measure(
        self, anchor: object, image: RGBImage, points: Floats, previous: Parallax | None
    ) -> Parallax: ...


class ParallaxMeter:
    """The planar-parallax measurement (:func:`~kiosk.biometrics.parallax.parallax`)."""

    def prepare(self, image: RGBImage, points: Floats) -> object | None:
        return reference(image, points)

    def measure(
        self, anchor: object, image: RGBImage, points: Floats, previous: Parallax | None
    ) -> Parallax:
        return parallax(cast(Reference, anchor), image, points, previous=previous)


TURN_THRESHOLD = 0.010
"""Nose turn (crop widths, :attr:`~kiosk.biometrics.parallax.Parallax.turn`) from which a
frame counts as turned: about 6 degrees on the camera mock. Measured there (12 travellers,
seed 11, every frame measured against a frontal one as the challenge does): live heads turned
15 degrees or more 0.020-0.073 (391 frames), 8-15 degrees 0.013-0.032; heads holding still
against a frame up to 7 s older within +-0.007; prints, still or tilted up to 45 degrees, within
+-0.0013 (1,800 frames)."""
TURNS: tuple[Turn, Turn] = ("turn_left", "turn_right")


@dataclass(frozen=True, slots=True)
class Challenge:
    turns: tuple[Turn, ...]
    holds_s: tuple[float, ...]
    """Seconds (camera time) of frontal stillness before each turn's prompt."""
    turned_holds_s: tuple[float, ...] = ()
    """Seconds to keep each turn (from when it is seen) before ``look_straight`` is shown;
    missing entries are 0."""

    def turned_hold(self, index: int) -> float:
        return self.turned_holds_s[index] if index < len(self.turned_holds_s) else 0.0


def random_challenge(
    rng: random.Random | None = None,
    *,
    turns: int = 3,
    hold_s: tuple[float, float] = (0.4, 1.6),
    turned_hold_s: tuple[float, float] = (0.0, 0.0),
) -> Challenge:
    """Random directions, each sequence equally likely, using both directions when there are
    two turns or more; random holds before each prompt and random times to keep each turn.
    Without ``rng`` the operating system's generator is used: an attacker must not be able to
    predict the challenge.

    Three turns by default (the kiosk's ``face_challenge_turns``): a replayed recording must fit
    every timed prompt by chance, and with two it did so for 6 of 390 presentations on the
    camera mock (1.5%; 4 of 390 with same-direction orders allowed too), with three for none
    of 390 (95% upper bound 0.77%), at the same BPCER (1/75); the third turn costs the
    traveller about 3.4 s of camera time and the kiosk about 0.3 s of CPU
    (``benchmarks/face.py --challenge-turns``).

    No turned holds by default: on the camera mock they cost about a second a traveller (the
    demo served 8 travellers in 20 s with 0.1-0.6 s, 10 without) and did not measurably
    reduce replay passes (0/500 against 1/500); ``look_straight`` still has to be answered
    within a reaction time."""
    if turns < 1:
        raise ValueError("a challenge needs at least one turn")
    rng = rng if rng is not None else random.SystemRandom()
    orders = [o for o in product(TURNS, repeat=turns) if turns == 1 or len(set(o)) == 2]
    chosen = rng.choice(orders)
    holds = tuple(round(rng.uniform(*hold_s), 3) for _ in chosen)
    kept = tuple(round(rng.uniform(*turned_hold_s), 3) for _ in chosen)
    return Challenge(chosen, holds, kept)


@dataclass(frozen=True, slots=True)
class LivenessLimits:
    """Thresholds, set from the camera mock's sequences (``benchmarks/face.py``)."""

    turn: float = TURN_THRESHOLD
    """Nose turn (crop widths) that counts as turned; see ``TURN_THRESHOLD``."""
    back: float = 0.006
    """Nose turn within which the head is frontal again (about 3 degrees)."""
    left_turn: float = 0.5
    """Share of the turn's own size (the most seen) below which the head is coming back."""
    turned_frames: int = 2
    """Measured frames in a row, turned the asked way, that make a turn."""
    flat_frames: int = 4
    """Measured frames whose landmarks show the asked turn while the parallax shows none,
    after which the face is a picture (a tilted print)."""
    yaw_turn: float = 0.05
    """Landmark yaw change (proxy units, about 8 degrees) of a turned-looking face (for the
    picture's reason only; the parallax decides)."""
    yaw_trigger: float = 0.04
    """Landmark yaw change that makes a measurement worth it (holding, looking back)."""
    hold_every: int = 4
    """While holding (before a prompt or turned), measure every this many frames."""
    settle_s: float = 0.2
    """Seconds into a hold before its anchor is taken (the head has come to rest)."""
    min_reaction_s: float = 0.25
    """No response to a prompt can be seen sooner: reading and reacting take longer (the mock's
    live actor starts 0.3-0.9 s after a prompt)."""
    reach_timeout_s: float = 1.4
    """Seconds from the prompt within which the nose must first reach ``turn``. The mock's
    live actor reaches it 0.45-1.25 s after the prompt (measured, benchmarks/face.py); a
    replay's recorded turn comes whenever it comes, so the narrower the window, the rarer a
    chance fit."""
    return_timeout_s: float = 2.2
    """Seconds from ``look_straight`` within which the head must be frontal again."""
    max_gap_s: float = 0.6
    max_jump: float = 0.5
    """Largest move of the face box's centre between frames, in box widths."""


class Phase(StrEnum):
    HOLD = "hold"
    TURN = "turn"
    TURNED = "turned"
    RETURN = "return"
    DONE = "done"


class LivenessCheck:
    """Runs one :class:`Challenge` over the observations of one transaction."""

    def __init__(
        self,
        challenge: Challenge,
        baseline_yaw: float,
        limits: LivenessLimits | None = None,
        *,
        meter: Meter | None = None,
    ) -> None:
        self.challenge = challenge
        self.limits = limits or LivenessLimits()
        self.base_yaw = baseline_yaw
        self.meter: Meter = meter or ParallaxMeter()
        self.phase = Phase.HOLD
        self.index = 0
        self.passed: bool | None = None
        self.reason = ""
        self.measured = 0
        """Parallax measurements made (for the CPU figures)."""
        self.reached_s: list[float] = []
        """Seconds from each prompt (turn, look straight) to the response first seen (for
        calibration; no biometric data)."""
        self._since: float | None = None
        self._frames = 0
        """Frames seen in the current phase."""
        self._last_face: FaceObservation | None = None
        self._anchor: object | None = None
        """The step's frontal frame, prepared by the meter (this transaction only)."""
        self._previous: Parallax | None = None
        """The last measurement against the anchor (it seeds the next)."""
        self._hits = 0
        self._wrong = 0
        self._flat = 0
        self._size = 0.0
        """How far the turn went (nose turn along the asked direction, see ``_note_turned``)."""
        self._turned_values: list[float] = []
        self._reached = False
        self._checked_early = False
        self._moving = False
        self._suspect = False
        """The last measurement met the phase's failure condition (one more confirms it)."""
        self._leaving = False
        """The head was seen coming back after ``look_straight``."""

    @property
    def done(self) -> bool:
        return self.passed is not None

    @property
    def direction(self) -> float:
        """+1 for a turn to the person's left, -1 to their right."""
        return 1.0 if self.challenge.turns[self.index] == "turn_left" else -1.0

    def _fail(self, reason: str) -> None:
        self.passed, self.reason, self.phase = False, reason, Phase.DONE

    def feed(self, obs: FaceObservation, image: RGBImage | None = None) -> str | None:
        """Take one observation and its frame; return the prompt to show from now on (None: no
        change). Without frames nothing can be measured: no turn is ever seen (fail closed)."""
        if self.done:
            return None
        if self._since is None:
            self._since = obs.t
        limits = self.limits
        if obs.faces > 1:
            self._fail("several faces")
            return None
        if obs.faces == 0 or obs.landmarks is None:
            last = self._last_face.t if self._last_face is not None else self._since
            if obs.t - last > limits.max_gap_s:
                self._fail("face lost")
            else:
                self._timeouts(obs.t)
            return None
        last_face = self._last_face
        if last_face is not None and last_face.box is not None and obs.box is not None:
            (a0, a1, a2, a3), (b0, b1, b2, b3) = last_face.box, obs.box
            jump = abs(a0 + a2 - b0 - b2) / 2 + abs(a1 + a3 - b1 - b3) / 2
            if jump > limits.max_jump * (b2 - b0):
                self._fail("face changed")
                return None
        self._last_face = obs
        self._frames += 1
        elapsed = obs.t - self._since
        if self.phase is Phase.HOLD:
            return self._hold(obs, image, elapsed)
        if self.phase is Phase.TURN:
            return self._turn(obs, image, elapsed)
        if self.phase is Phase.TURNED:
            return self._turned(obs, image, elapsed)
        if self.phase is Phase.RETURN:
            return self._return(obs, image, elapsed)
        return None

    def _hold(self, obs: FaceObservation, image: RGBImage | None, elapsed: float) -> str | None:
        limits = self.limits
        if self._anchor is None:
            # The first hold follows the capture's steady frontal frames: no need to settle.
            settle = limits.settle_s if self.index > 0 else 0.0
            if image is not None and obs.landmarks is not None and elapsed >= settle:
                self._anchor = self.meter.prepare(image, obs.landmarks)
                self._frames = 0
            if self._anchor is None and elapsed > limits.settle_s + limits.max_gap_s:
                self._fail("no frame to measure")  # observations alone prove nothing
            return None
        if self._suspect or self._frames % limits.hold_every == 0 or self._yaw_moved(obs):
            seen = self._measure(obs, image)
            turned = seen is not None and abs(seen.along(1.0)) >= limits.turn
            if turned and self._suspect:  # two measurements in a row: not flow noise
                self._fail("turned without being asked")
                return None
            self._suspect = turned
        if elapsed >= self.challenge.holds_s[self.index] + (limits.settle_s if self.index else 0):
            return self._enter(Phase.TURN, obs.t, self.challenge.turns[self.index])
        return None

    def _turn(self, obs: FaceObservation, image: RGBImage | None, elapsed: float) -> str | None:
        limits = self.limits
        # Every other frame until the head starts moving (CPU), then every frame: the next
        # measurement is seeded by this one, and a fast turn moves far in two frames.
        due = not self._checked_early or self._moving
        if elapsed >= limits.min_reaction_s and (due or self._frames % 2 == 0):
            seen = self._measure(obs, image)
            along = seen.along(self.direction) if seen is not None else 0.0
            self._moving = abs(along) >= 0.5 * limits.turn
            first = not self._checked_early
            self._checked_early = True
            if along >= limits.turn:
                if first and elapsed < limits.min_reaction_s + 0.2:
                    # Already turned at the first look after the prompt: it began before the
                    # prompt could have been read (a recording turning on its own schedule).
                    self._fail("turned before the prompt could be seen")
                    return None
                if not self._reached:
                    if elapsed > limits.reach_timeout_s:
                        self._fail("turned too late")
                        return None
                    self._reached = True
                    self.reached_s.append(round(elapsed, 3))
                self._hits += 1
                self._wrong = 0
                self._note_turned(along)
                if self._hits >= limits.turned_frames:
                    return self._turn_seen(obs.t)
                return None
            self._hits = 0
            if along <= -limits.turn:
                self._wrong += 1
                if self._wrong >= limits.turned_frames:
                    self._fail("turned the wrong way")
                    return None
            else:
                self._wrong = 0
                if self._yaw_along(obs) >= limits.yaw_turn:
                    self._flat += 1  # the landmarks say turned, the parallax does not
                    if self._flat >= limits.flat_frames:
                        self._fail("flat turn (a picture)")
                        return None
        self._timeouts(obs.t)
        return None

    def _turn_seen(self, t: float) -> str | None:
        if self.challenge.turned_hold(self.index) > 0:
            self._enter(Phase.TURNED, t, None)
            return None
        return self._enter(Phase.RETURN, t, "look_straight")

    def _turned(self, obs: FaceObservation, image: RGBImage | None, elapsed: float) -> str | None:
        limits = self.limits
        if self._suspect or self._frames % limits.hold_every == 0 or self._yaw_back(obs):
            seen = self._measure(obs, image)
            along = seen.along(self.direction) if seen is not None else 0.0
            leaving = along < limits.left_turn * self._size
            if leaving and self._suspect:  # two measurements in a row: not flow noise
                self._fail("looked back before being asked")
                return None
            self._suspect = leaving
            self._note_turned(along)
        if elapsed >= self.challenge.turned_hold(self.index):
            return self._enter(Phase.RETURN, obs.t, "look_straight")
        return None

    def _return(self, obs: FaceObservation, image: RGBImage | None, elapsed: float) -> str | None:
        limits = self.limits
        if elapsed < limits.min_reaction_s:
            return None
        first = not self._checked_early
        if first or self._suspect or self._frames % 2 == 0:
            seen = self._measure(obs, image)
            self._checked_early = True
            along = seen.along(self.direction) if seen is not None else math.inf
            leaving = along < limits.left_turn * self._size
            if self._suspect and leaving:
                # Already on the way back when the prompt could first be acted on (seen
                # twice in a row: a large turn's flow is sometimes off for a frame).
                self._fail("looked back before being asked")
                return None
            self._suspect = first and elapsed < limits.min_reaction_s + 0.2 and leaving
            if leaving and not self._leaving:
                self._leaving = True
                self.reached_s.append(round(elapsed, 3))
            if not self._suspect and seen is not None and abs(seen.along(1.0)) <= limits.back:
                self.index += 1
                if self.index >= len(self.challenge.turns):
                    self.passed, self.reason, self.phase = True, "challenge passed", Phase.DONE
                    return None
                self._anchor = self._previous = None  # the next hold takes its own
                self._enter(Phase.HOLD, obs.t, None)
                return None
        self._timeouts(obs.t)
        return None

    def _note_turned(self, along: float) -> None:
        """Keep the turn's size: the median of its turned measurements (robust to a frame
        whose flow is off)."""
        if along >= self.limits.turn:
            self._turned_values.append(along)
            self._size = statistics.median(self._turned_values)

    def _measure(self, obs: FaceObservation, image: RGBImage | None) -> Parallax | None:
        if image is None or self._anchor is None or obs.landmarks is None:
            return None
        self.measured += 1
        seen = self.meter.measure(self._anchor, image, obs.landmarks, self._previous)
        if seen.mapping is not None:
            self._previous = seen
        return seen

    def _yaw_along(self, obs: FaceObservation) -> float:
        return (obs.yaw - self.base_yaw) * self.direction

    def _yaw_moved(self, obs: FaceObservation) -> bool:
        return abs(obs.yaw - self.base_yaw) >= self.limits.yaw_trigger

    def _yaw_back(self, obs: FaceObservation) -> bool:
        return abs(obs.yaw - self.base_yaw) < self.limits.yaw_trigger

    def _enter(self, phase: Phase, t: float, prompt: str | None) -> str | None:
        self.phase, self._since, self._frames = phase, t, 0
        self._hits = self._wrong = self._flat = 0
        self._checked_early = self._suspect = self._leaving = self._moving = False
        if phase is Phase.TURN:
            self._reached, self._size, self._turned_values = False, 0.0, []
        return prompt

    def _timeouts(self, t: float) -> None:  # fails the check past the phase's time limit
        since = self._since if self._since is not None else t
        limits = self.limits
        elapsed = t - since
        if self.phase is Phase.TURN and elapsed > limits.reach_timeout_s:
            # None in time, or seen but not steadily the asked way for a second more.
            if not self._reached or elapsed > limits.reach_timeout_s + 1.0:
                # Landmarks that turned without parallax: a picture tilted to fake the turn.
                self._fail("flat turn (a picture)" if self._flat >= 2 else "no turn")
        elif self.phase is Phase.RETURN and not self._leaving and elapsed > limits.reach_timeout_s:
            self._fail("did not look back")  # not within a reaction time of the prompt
        elif self.phase is Phase.RETURN and t - since > limits.return_timeout_s:
            self._fail("did not look back")
