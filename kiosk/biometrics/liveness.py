"""Presentation-attack detection: a randomised active challenge, checked for 3D parallax.

The kiosk picks the challenge (:func:`random_challenge`): the order of the head turns and how
long the traveller must hold still, facing the camera, before each prompt. The traveller sees
``turn_left`` / ``turn_right`` and ``look_straight`` on the screen. :class:`LivenessCheck` is fed
one :class:`~kiosk.biometrics.capture.FaceObservation` per frame (with the frame itself), says
which prompt to show, and decides, relative to the traveller's own frontal baseline (see
:mod:`kiosk.biometrics.capture` for ``yaw``):

1. **Response**: within ``reach_timeout_s`` of each prompt, the yaw moves by ``turn`` or more in
   the asked direction, not sooner than ``min_reaction_s`` after it (nobody reads that fast) and
   never the other way.
2. **Stillness**: while holding before a prompt, no turn (a replayed video turns when the
   recording did, not when the kiosk asks; the random hold times make that a guess).
3. **Depth**: a turned frame counts only if the face moved in 3D since the last frontal frame
   of the hold: :func:`~kiosk.biometrics.parallax.parallax_score` (the residual of the best
   homography between the two faces' image motion) is ``parallax`` or more. A picture, print
   or screen, however it is tilted, moves by one homography; a turning head shows parallax.
   Five landmarks cannot tell the two apart (any three of them fit an affine map), the motion
   of the whole face can. A replayed video of the traveller turning has parallax too: the
   timing (1, 2) is what refuses it.
4. **Continuity**: one face throughout, never lost for longer than ``max_gap_s``, never jumping
   (a face swapped in).

Any failure ends the check with a short, non-biometric reason (safe to log).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from . import RGBImage
from .capture import FaceObservation, Floats
from .parallax import parallax_score

Turn = Literal["turn_left", "turn_right"]
Scorer = Callable[[RGBImage, Floats, RGBImage, Floats], float]
"""(frontal image, its landmarks, turned image, its landmarks) -> parallax score."""

PARALLAX_THRESHOLD = 0.010
"""Parallax score (crop widths) from which a turned face counts as 3D. Measured on the camera
mock's sequences (benchmarks/face.py, seeds 11 and 23, 84 travellers): turned frames of live
heads 0.002-0.086, median 0.023, 4.6% (27/589) below 0.010; tilted prints 0.0001-0.0046 in
198 of 200 frames, the other two (one turn, a print whose landmarks misplaced the face by
about 30 px, so the flow did not converge) 0.06. Needing ``turned_frames`` deep frames out
of ``parallax_frames`` measured makes a live turn's failure rare."""
TURNS: tuple[Turn, Turn] = ("turn_left", "turn_right")


@dataclass(frozen=True, slots=True)
class Challenge:
    turns: tuple[Turn, ...]
    holds_s: tuple[float, ...]
    """Seconds (camera time) of frontal stillness before each turn's prompt."""


def random_challenge(
    rng: random.Random | None = None,
    *,
    turns: int = 2,
    hold_s: tuple[float, float] = (0.4, 1.5),
) -> Challenge:
    """Both directions in a random order (for 2 turns; more add random directions), with random
    holds. Without ``rng`` the operating system's generator is used: an attacker must not be
    able to predict the challenge."""
    if turns < 1:
        raise ValueError("a challenge needs at least one turn")
    rng = rng if rng is not None else random.SystemRandom()
    order: list[Turn] = list(TURNS)
    rng.shuffle(order)
    while len(order) < turns:
        order.append(rng.choice(TURNS))
    chosen = tuple(order[:turns])
    return Challenge(chosen, tuple(round(rng.uniform(*hold_s), 3) for _ in chosen))


@dataclass(frozen=True, slots=True)
class LivenessLimits:
    """Thresholds, set from the camera mock's sequences (``benchmarks/face.py``)."""

    turn: float = 0.05
    """Yaw change (proxy units, about 8 degrees) towards the asked side that counts as a turn
    (the nose point of the 5-point model follows some faces' turns only weakly)."""
    parallax: float = PARALLAX_THRESHOLD
    """Planar-parallax score (crop widths) above which a turned face is 3D; see
    ``PARALLAX_THRESHOLD``."""
    parallax_frames: int = 6
    """Turned frames whose parallax is measured per turn (CPU); a turn that has not shown
    depth in as many fails as flat."""
    unprompted: float = 0.08
    """Yaw change that, without a prompt (while holding), counts as an unprompted turn."""
    wrong_way: float = 0.12
    """Yaw change away from the asked side that fails the check."""
    still: float = 0.05
    """Yaw change back within which the traveller looks straight again."""
    min_reaction_s: float = 0.15
    reach_timeout_s: float = 2.0
    """Seconds from the prompt within which the yaw must first reach ``turn``: people react
    within about a second (the mock: 0.3-0.9 s, then a 0.35-0.6 s turn); a replay's recorded
    turn comes whenever it comes, and a short window makes it less likely to fit."""
    turn_timeout_s: float = 3.0
    """Seconds from the prompt within which the turn must show depth too."""
    return_timeout_s: float = 3.0
    turned_frames: int = 2
    """Turned frames showing depth needed for one turn."""
    max_gap_s: float = 0.6
    max_jump: float = 0.5
    """Largest move of the face box's centre between frames, in box widths."""


class Phase(StrEnum):
    HOLD = "hold"
    TURN = "turn"
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
        scorer: Scorer = parallax_score,
    ) -> None:
        self.challenge = challenge
        self.limits = limits or LivenessLimits()
        self.base_yaw = baseline_yaw
        self.scorer = scorer
        self.phase = Phase.HOLD
        self.index = 0
        self.passed: bool | None = None
        self.reason = ""
        self._since: float | None = None
        self._hits = 0
        self._reached_yaw = False
        self._last_face: FaceObservation | None = None
        self._frontal: tuple[RGBImage, Floats] | None = None
        """The last frontal frame of the hold (the parallax reference; this transaction only)."""
        self._measured = 0

    @property
    def done(self) -> bool:
        return self.passed is not None

    def _fail(self, reason: str) -> None:
        self.passed, self.reason, self.phase = False, reason, Phase.DONE

    def feed(self, obs: FaceObservation, image: RGBImage | None = None) -> str | None:
        """Take one observation and its frame; return the prompt to show from now on (None: no
        change). Without frames no turn can show depth: the check then fails (closed)."""
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
        dyaw = obs.yaw - self.base_yaw
        elapsed = obs.t - self._since
        if self.phase is Phase.HOLD:
            if abs(dyaw) >= limits.unprompted:
                self._fail("turned without being asked")
                return None
            if image is not None and abs(dyaw) <= limits.still:
                self._frontal = (image, obs.landmarks)
            if elapsed >= self.challenge.holds_s[self.index]:
                return self._enter(Phase.TURN, obs.t, self.challenge.turns[self.index])
            return None
        if self.phase is Phase.TURN:
            direction = 1.0 if self.challenge.turns[self.index] == "turn_left" else -1.0
            along = dyaw * direction
            if -along >= limits.wrong_way:
                self._fail("turned the wrong way")
                return None
            if along < limits.turn and not self._reached_yaw:
                if elapsed > limits.reach_timeout_s:
                    self._fail("no turn")
                    return None
            elif along >= limits.turn:
                if elapsed < limits.min_reaction_s:
                    self._fail("turned before the prompt could be seen")
                    return None
                self._reached_yaw = True
                if self._depth(obs, image):
                    self._hits += 1
                    if self._hits >= limits.turned_frames:
                        return self._enter(Phase.RETURN, obs.t, "look_straight")
                if self._measured >= limits.parallax_frames:
                    self._fail("flat turn (a picture)")
                    return None
            self._timeouts(obs.t)
            return None
        if self.phase is Phase.RETURN:
            if abs(dyaw) <= limits.still:
                self.index += 1
                if self.index >= len(self.challenge.turns):
                    self.passed, self.reason, self.phase = True, "challenge passed", Phase.DONE
                    return None
                self._enter(Phase.HOLD, obs.t, None)
                return None
            self._timeouts(obs.t)
            return None
        return None

    def _depth(self, obs: FaceObservation, image: RGBImage | None) -> bool:
        """Whether this turned frame shows parallax against the hold's frontal frame."""
        if image is None or self._frontal is None or obs.landmarks is None:
            return False
        self._measured += 1
        score = self.scorer(self._frontal[0], self._frontal[1], image, obs.landmarks)
        return math.isfinite(score) and score >= self.limits.parallax  # NaN: in doubt, flat

    def _enter(self, phase: Phase, t: float, prompt: str | None) -> str | None:
        self.phase, self._since, self._hits, self._reached_yaw = phase, t, 0, False
        self._measured = 0
        return prompt

    def _timeouts(self, t: float) -> None:  # fails the check past the phase's time limit
        since = self._since if self._since is not None else t
        if self.phase is Phase.TURN and t - since > self.limits.turn_timeout_s:
            self._fail("flat turn (a picture)" if self._reached_yaw else "no turn")
        elif self.phase is Phase.RETURN and t - since > self.limits.return_timeout_s:
            self._fail("did not look back")
