"""The challenge logic on synthetic observations (fast: no dlib). The parallax meter is a
stand-in that reads how far the head is turned from the frame it is given (test_parallax.py
tests the real one): a frame of a 3D head carries its turn, a picture's frame shows none."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pytest

from kiosk.biometrics.capture import FaceObservation, geometry
from kiosk.biometrics.liveness import (
    TURN_THRESHOLD,
    Challenge,
    LivenessCheck,
    LivenessLimits,
    Phase,
    random_challenge,
)
from kiosk.biometrics.parallax import Parallax

FPS = 10
POINTS = np.array([[170.0, 100], [130, 100], [30, 100], [70, 100], [100, 160]])
PER_DEGREE = 0.0018
"""The stand-in's nose turn per degree (about the real measure's on the camera mock)."""


@dataclass(frozen=True)
class Shot:
    """What the camera saw: a 3D head turned ``yaw`` degrees (positive: to the person's
    left), or a flat picture (whatever it shows, no parallax)."""

    yaw: float
    flat: bool = False


class FakeMeter:
    def __init__(self) -> None:
        self.calls = 0

    def prepare(self, image: Shot, points: np.ndarray) -> Shot:
        return image

    def measure(
        self, anchor: Shot, image: Shot, points: np.ndarray, previous: Parallax | None
    ) -> Parallax:
        self.calls += 1
        if image.flat or anchor.flat:
            return Parallax(0.0002, 0.0)
        turn = PER_DEGREE * (image.yaw - anchor.yaw)
        return Parallax(abs(turn), turn)


CHALLENGE = Challenge(("turn_right", "turn_left"), (0.5, 0.8), (0.3, 0.0))


def checker(
    challenge: Challenge = CHALLENGE, baseline_yaw: float = 0.0, meter: FakeMeter | None = None
) -> LivenessCheck:
    return LivenessCheck(challenge, baseline_yaw, LivenessLimits(), meter=meter or FakeMeter())  # type: ignore[arg-type]


def obs(t: float, yaw: float = 0.0, faces: int = 1) -> FaceObservation:
    """An observation whose landmark yaw follows the head's (about 0.0065 a degree)."""
    if faces == 0:
        return FaceObservation(t=t, faces=0)
    return FaceObservation(
        t=t, faces=faces, box=(0, 0, 200, 200), landmarks=POINTS, iod=100.0,
        yaw=0.0065 * yaw, problem=None,
    )  # fmt: skip


Person = Callable[[float, "str | None", float], Shot]
"""(time, prompt shown, seconds since it was shown) -> what the camera sees."""


def run(
    check: LivenessCheck, person: Person, *, landmark_yaw: bool = True
) -> list[tuple[float, str]]:
    """Feed up to 20 s of frames; returns the prompts shown, with their times."""
    prompt: str | None = None
    since = 0.0
    shown: list[tuple[float, str]] = []
    for i in range(200):
        t = i / FPS
        shot = person(t, prompt, t - since)
        key = check.feed(obs(t, shot.yaw if landmark_yaw else 0.0), shot)  # type: ignore[arg-type]
        if key is not None:
            prompt, since = key, t
            shown.append((t, key))
        if check.done:
            break
    return shown


class live_person:  # noqa: N801 - used like a function that remembers the last turn
    """Turns ``amplitude`` degrees ``delay`` s after a turn prompt (over 0.3 s) and looks
    back, likewise, after ``look_straight``."""

    def __init__(self, delay: float = 0.5, amplitude: float = 25.0, flat: bool = False) -> None:
        self.delay, self.amplitude, self.flat = delay, amplitude, flat
        self.turned = 0.0

    def __call__(self, t: float, prompt: str | None, since: float) -> Shot:
        k = min(max((since - self.delay) / 0.3, 0.0), 1.0)
        if prompt in ("turn_left", "turn_right"):
            side = 1.0 if prompt == "turn_left" else -1.0
            self.turned = side * self.amplitude * k
            return Shot(self.turned, self.flat)
        if prompt == "look_straight":
            return Shot(self.turned * (1 - k), self.flat)
        return Shot(0.0, self.flat)


def test_a_live_person_passes() -> None:
    meter = FakeMeter()
    check = checker(meter=meter)
    shown = run(check, live_person())
    assert check.passed is True, check.reason
    assert [k for _, k in shown] == ["turn_right", "look_straight", "turn_left", "look_straight"]
    assert shown[0][0] >= 0.5  # the first prompt came after the hold
    # look_straight came after the random time the turn had to be kept (0.3 s for the first)
    assert shown[1][0] - shown[0][0] >= 0.5 + 0.3
    assert check.measured == meter.calls <= 30  # CPU: not every frame is measured
    assert len(check.reached_s) == 4
    assert all(0.5 <= r <= 1.1 for r in check.reached_s)


def test_a_small_turn_the_landmarks_miss_still_counts() -> None:
    """The parallax decides: a 10 degree turn whose landmark yaw did not move passes."""
    check = checker()
    run(check, live_person(amplitude=10.0), landmark_yaw=False)
    assert check.passed is True, check.reason


def test_a_still_face_fails() -> None:
    check = checker()
    run(check, lambda t, p, s: Shot(0.0))
    assert (check.passed, check.reason) == (False, "no turn")


def test_a_flat_turn_fails() -> None:
    """A picture tilted as asked: the landmarks turn, the parallax shows nothing."""
    check = checker()
    run(check, live_person(flat=True))
    assert (check.passed, check.reason) == (False, "flat turn (a picture)")
    assert check.index == 0


def test_without_frames_nothing_can_pass() -> None:
    """Fail closed: observations alone cannot show parallax."""
    check = checker()
    for i in range(40):
        check.feed(obs(i / FPS), None)
        if check.done:
            break
    assert (check.passed, check.reason) == (False, "no frame to measure")


def test_flow_noise_in_one_frame_is_not_a_turn() -> None:
    """One measurement over the threshold while holding is not enough: two in a row are."""
    glitch = {0.4}
    live = live_person()

    def person(t: float, prompt: str | None, since: float) -> Shot:
        if round(t, 1) in glitch:
            return Shot(10.0)
        return live(t, prompt, since)

    check = checker(Challenge(("turn_left",), (1.2,)))
    run(check, person, landmark_yaw=False)
    assert check.passed is True, check.reason
    glitch.add(0.5)
    check = checker(Challenge(("turn_left",), (1.2,)))
    run(check, person, landmark_yaw=False)
    assert (check.passed, check.reason) == (False, "turned without being asked")


def test_a_turn_too_late_fails() -> None:
    """People react within about a second; a recording's turn comes when it comes."""
    check = checker()
    run(check, live_person(delay=1.6))
    assert (check.passed, check.reason) == (False, "no turn")


def test_the_reaction_window_is_the_limits() -> None:
    limits = LivenessLimits()
    late = limits.reach_timeout_s - 0.3 - 0.15  # reaches the threshold just in time
    check = checker()
    run(check, live_person(delay=late))
    assert check.passed is True, check.reason
    check = checker()
    run(check, live_person(delay=late + 0.3))
    assert check.passed is False


def test_the_wrong_direction_fails() -> None:
    def contrary(t: float, prompt: str | None, since: float) -> Shot:
        flipped = {"turn_left": "turn_right", "turn_right": "turn_left"}.get(prompt or "", prompt)
        return live_person()(t, flipped, since)

    check = checker()
    run(check, contrary)
    assert (check.passed, check.reason) == (False, "turned the wrong way")


def test_a_turn_while_holding_fails() -> None:
    """A replayed video turns when the recording did, not when asked."""
    check = checker()
    run(check, lambda t, p, s: Shot(20.0 if 0.2 < t < 1.2 else 0.0), landmark_yaw=False)
    assert (check.passed, check.reason) == (False, "turned without being asked")


def test_a_turn_faster_than_reading_fails() -> None:
    check = checker()
    run(check, live_person(delay=0.0))
    assert (check.passed, check.reason) == (False, "turned before the prompt could be seen")


def test_looking_back_before_being_asked_fails() -> None:
    """The head must stay turned until look_straight (shown at a random time) and come back
    only after it could be read."""

    def impatient(t: float, prompt: str | None, since: float) -> Shot:
        if prompt in ("turn_left", "turn_right"):
            side = 1.0 if prompt == "turn_left" else -1.0
            return Shot(side * 25.0 if 0.5 <= since < 1.0 else 0.0)
        return Shot(0.0)

    check = checker()
    run(check, impatient)
    assert (check.passed, check.reason) == (False, "looked back before being asked")


def test_not_looking_back_fails() -> None:
    live = live_person()

    def stays(t: float, prompt: str | None, since: float) -> Shot:
        return live(t, prompt, since) if prompt != "look_straight" else Shot(live.turned)

    check = checker()
    run(check, stays)
    assert (check.passed, check.reason) == (False, "did not look back")
    assert check.index == 0


def test_losing_the_face_fails() -> None:
    check = checker()
    for i in range(40):
        t = i / FPS
        check.feed(obs(t, faces=0 if t > 0.3 else 1), Shot(0.0))  # type: ignore[arg-type]
        if check.done:
            break
    assert (check.passed, check.reason) == (False, "face lost")


def test_a_second_face_fails() -> None:
    check = checker()
    for i in range(40):
        t = i / FPS
        check.feed(obs(t, faces=2 if t > 0.3 else 1), Shot(0.0))  # type: ignore[arg-type]
        if check.done:
            break
    assert (check.passed, check.reason) == (False, "several faces")


def test_the_baseline_is_the_travellers_own_pose() -> None:
    """A person whose frontal pose reads yaw 0.1 is judged relative to it."""
    check = checker(baseline_yaw=0.1)
    person = live_person()
    prompt: str | None = None
    since = 0.0
    for i in range(200):
        t = i / FPS
        shot = person(t, prompt, t - since)
        o = obs(t, shot.yaw)
        key = check.feed(replace(o, yaw=o.yaw + 0.1), shot)  # type: ignore[arg-type]
        if key is not None:
            prompt, since = key, t
        if check.done:
            break
    assert check.passed is True, check.reason


def test_the_threshold_sits_between_picture_noise_and_a_small_turn() -> None:
    assert 0.0016 * 3 < TURN_THRESHOLD < PER_DEGREE * 8


def seeds() -> Iterator[int]:
    return iter(range(300))


def test_random_challenges_cover_every_order_using_both_directions() -> None:
    two = {random_challenge(random.Random(s), turns=2).turns for s in seeds()}
    assert two == {("turn_left", "turn_right"), ("turn_right", "turn_left")}
    three = [random_challenge(random.Random(s), turns=3, turned_hold_s=(0.1, 0.6)) for s in seeds()]
    orders = {c.turns for c in three}
    assert len(orders) == 6  # every sequence of 3 that uses both directions
    assert all(len(set(o)) == 2 for o in orders)
    holds = [h for c in three for h in c.holds_s]
    kept = [h for c in three for h in c.turned_holds_s]
    assert 0.4 <= min(holds) < 0.5
    assert 1.5 < max(holds) <= 1.6
    assert 0.1 <= min(kept) < 0.2
    assert 0.5 < max(kept) <= 0.6
    default = random_challenge()  # the system generator
    assert len(default.turns) == 3  # two let a looped replay fit by chance too often
    assert default.turned_holds_s == (0.0, 0.0, 0.0)  # look_straight once the turn is seen
    assert random_challenge(turns=1).turns in {("turn_left",), ("turn_right",)}
    with pytest.raises(ValueError, match="at least one turn"):
        random_challenge(turns=0)


def test_a_challenge_without_turned_holds_asks_to_look_straight_at_once() -> None:
    check = checker(Challenge(("turn_left",), (0.5,)))
    shown = run(check, live_person())
    assert check.passed is True, check.reason
    assert check.phase is Phase.DONE
    assert shown[1][0] - shown[0][0] <= 0.5 + 0.3 + 0.2


def test_geometry_of_a_frontal_face() -> None:
    iod, yaw, ratio = geometry(POINTS)
    assert iod == pytest.approx(100.0)
    assert yaw == pytest.approx(0.0)
    assert ratio == pytest.approx(0.0)
    turned = POINTS.copy()
    turned[4, 0] += 20  # the nose to the image's right: the person turned to their left
    assert geometry(turned)[1] == pytest.approx(0.2)
    assert not math.isnan(yaw)
