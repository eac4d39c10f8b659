"""The challenge logic on synthetic observations (fast: no dlib). The parallax scorer is a
stand-in telling a 3D head's frames from a picture's (test_parallax.py tests the real one)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from kiosk.biometrics.capture import FaceObservation, geometry
from kiosk.biometrics.liveness import (
    PARALLAX_THRESHOLD,
    Challenge,
    LivenessCheck,
    LivenessLimits,
    random_challenge,
)

FPS = 10
POINTS = np.array([[170.0, 100], [130, 100], [30, 100], [70, 100], [100, 160]])
HEAD = np.full((4, 4, 3), 1, dtype=np.uint8)
"""A frame of a 3D head (for the stand-in scorer)."""
PICTURE = np.full((4, 4, 3), 2, dtype=np.uint8)


def scorer(frontal: np.ndarray, fp: np.ndarray, turned: np.ndarray, tp: np.ndarray) -> float:
    """Parallax well above the threshold between frames of a head, flow noise for a picture."""
    if turned[0, 0, 0] == HEAD[0, 0, 0] and frontal[0, 0, 0] == HEAD[0, 0, 0]:
        return 3 * PARALLAX_THRESHOLD
    return 0.1 * PARALLAX_THRESHOLD


def checker(baseline_yaw: float = 0.0) -> LivenessCheck:
    return LivenessCheck(CHALLENGE, baseline_yaw, LivenessLimits(), scorer=scorer)


def obs(t: float, yaw: float = 0.0, faces: int = 1, roll: float = 0.0) -> FaceObservation:
    if faces == 0:
        return FaceObservation(t=t, faces=0)
    return FaceObservation(
        t=t, faces=faces, box=(0, 0, 200, 200), landmarks=POINTS, iod=100.0, yaw=yaw,
        roll=roll, problem=None,
    )  # fmt: skip


def run(
    check: LivenessCheck,
    person: Callable[[float, str | None, float], FaceObservation],
    frame: np.ndarray | None = HEAD,
) -> list[tuple[float, str]]:
    """Feed 20 s of frames; ``person(t, prompt, since)`` renders what the person does, seen in
    ``frame`` (a head's or a picture's; None: observations without frames)."""
    prompt: str | None = None
    since = 0.0
    shown: list[tuple[float, str]] = []
    for i in range(200):
        t = i / FPS
        key = check.feed(person(t, prompt, t - since), frame)
        if key is not None:
            prompt, since = key, t
            shown.append((t, key))
        if check.done:
            break
    return shown


def live_person(delay: float = 0.5) -> Callable[[float, str | None, float], FaceObservation]:
    def person(t: float, prompt: str | None, since: float) -> FaceObservation:
        if prompt in ("turn_left", "turn_right") and since >= delay:
            d = 1.0 if prompt == "turn_left" else -1.0
            return obs(t, yaw=0.2 * d)
        return obs(t, yaw=0.01)

    return person


CHALLENGE = Challenge(("turn_right", "turn_left"), (0.5, 0.8))


def test_a_live_person_passes() -> None:
    check = checker()
    shown = run(check, live_person())
    assert check.passed is True, check.reason
    assert [k for _, k in shown] == ["turn_right", "look_straight", "turn_left", "look_straight"]
    assert shown[0][0] >= 0.5  # the first prompt came after the hold


def test_a_still_picture_fails() -> None:
    check = checker()
    run(check, lambda t, p, s: obs(t, yaw=0.01))
    assert check.passed is False
    assert check.reason == "no turn"


def test_a_flat_turn_fails() -> None:
    """A picture tilted to fake the yaw moves by a homography: no parallax. The check gives up
    after ``parallax_frames`` measured frames, not at the turn's timeout."""
    check = checker()
    run(check, live_person(), PICTURE)
    assert check.passed is False
    assert check.reason == "flat turn (a picture)"
    assert check._last_face is not None
    assert check._last_face.t == pytest.approx(1.0 + 0.1 * 5)  # prompt 0.5, turn 1.0, 6 frames


def test_without_frames_no_turn_shows_depth() -> None:
    """Fail closed: observations alone cannot show parallax."""
    check = checker()
    run(check, live_person(), None)
    assert (check.passed, check.reason) == (False, "flat turn (a picture)")


def test_one_deep_frame_is_not_enough() -> None:
    """``turned_frames`` frames must show depth: one glitch does not pass a picture."""
    check = checker()
    prompt: str | None = None
    since = 0.0
    turned = 0
    for i in range(200):
        t = i / FPS
        o = live_person()(t, prompt, t - since)
        turned += abs(o.yaw) > 0.1
        key = check.feed(o, HEAD if turned <= 1 else PICTURE)
        if key is not None:
            prompt, since = key, t
        if check.done:
            break
    assert (check.passed, check.reason, check.index) == (False, "flat turn (a picture)", 0)


def test_a_turn_too_late_fails() -> None:
    """A replay's recorded turn that comes long after the prompt does not count."""
    check = checker()
    run(check, live_person(delay=2.3))
    assert (check.passed, check.reason) == (False, "no turn")


def test_the_wrong_direction_fails() -> None:
    check = checker()

    def contrary(t: float, prompt: str | None, since: float) -> FaceObservation:
        if prompt in ("turn_left", "turn_right") and since >= 0.5:
            d = -1.0 if prompt == "turn_left" else 1.0
            return obs(t, yaw=0.2 * d)
        return obs(t)

    run(check, contrary)
    assert (check.passed, check.reason) == (False, "turned the wrong way")


def test_a_turn_while_holding_fails() -> None:
    """A replayed video turns when the recording did, not when asked."""
    check = checker()
    run(check, lambda t, p, s: obs(t, yaw=0.2 if 0.2 < t < 1.0 else 0.0))
    assert (check.passed, check.reason) == (False, "turned without being asked")


def test_a_turn_faster_than_reading_fails() -> None:
    check = checker()
    run(check, live_person(delay=0.0))
    assert (check.passed, check.reason) == (False, "turned before the prompt could be seen")


def test_losing_the_face_fails() -> None:
    check = checker()
    run(check, lambda t, p, s: obs(t, faces=0 if t > 0.3 else 1))
    assert (check.passed, check.reason) == (False, "face lost")


def test_a_second_face_fails() -> None:
    check = checker()
    run(check, lambda t, p, s: obs(t, faces=2 if t > 0.3 else 1))
    assert (check.passed, check.reason) == (False, "several faces")


def test_the_baseline_is_the_travellers_own_pose() -> None:
    """A person whose frontal pose reads yaw 0.1 is judged relative to it."""
    check = checker(0.1)

    def person(t: float, prompt: str | None, since: float) -> FaceObservation:
        o = live_person()(t, prompt, since)
        return obs(t, yaw=o.yaw + 0.1)

    run(check, person)
    assert check.passed is True, check.reason


def seeds() -> Iterator[int]:
    return iter(range(200))


def test_random_challenges_use_both_directions_in_both_orders() -> None:
    challenges = [random_challenge(random.Random(s)) for s in seeds()]
    assert {c.turns for c in challenges} == {
        ("turn_left", "turn_right"),
        ("turn_right", "turn_left"),
    }
    holds = [h for c in challenges for h in c.holds_s]
    assert 0.4 <= min(holds) < 0.6
    assert 1.3 < max(holds) <= 1.5
    assert len(random_challenge(turns=3).turns) == 3  # the system generator by default
    with pytest.raises(ValueError, match="at least one turn"):
        random_challenge(turns=0)


def test_geometry_of_a_frontal_face() -> None:
    iod, yaw, ratio = geometry(POINTS)
    assert iod == pytest.approx(100.0)
    assert yaw == pytest.approx(0.0)
    assert ratio == pytest.approx(0.0)
    turned = POINTS.copy()
    turned[4, 0] += 20  # the nose to the image's right: the person turned to their left
    assert geometry(turned)[1] == pytest.approx(0.2)
