"""What stands in front of the mock camera: an *actor* renders the frame seen at a time ``t``
(camera seconds) and reacts to the prompts the kiosk's screen shows, as a person would.

* :class:`LiveActor`: a live person (a 3D head made from a face photo, :mod:`.head`) with small
  natural motion (sway, breathing-like nods) who, after a reaction delay, turns the head when the
  screen says ``turn_left`` / ``turn_right``, looks back on ``look_straight`` or ``face_camera``
  and steps closer on ``move_closer``. An impostor is a live actor with someone else's face.
* :class:`PrintedPhotoActor`: a photo printed on paper (white border, halftone dots) held in
  front of the camera, either still (a little hand tremor) or moved and tilted: a planar
  perspective warp of the print that also "answers" the prompts by tilting the paper the way it
  was asked (an attacker who read the screen).
* :class:`PhoneReplayActor`: a phone held up to the camera, replaying a recorded video of the
  traveller, head turns included, in the recording's own order and timing (looped): bezel,
  screen gamma and tint, moire from the screen's pixel grid.
* :class:`StaticScene`: a fixed image (nobody, or a test picture).

Every actor is seeded: the same seed, the same frame times and the same prompts give the same
frames. Frames are 640 x 480 RGB uint8.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage

from hardware_mocks.face_video.head import HeadModel
from hardware_mocks.interfaces import RGBImage

WIDTH = 640
HEIGHT = 480

AttackKind = Literal["print_still", "print_moved", "replay"]
ATTACK_KINDS: tuple[AttackKind, ...] = ("print_still", "print_moved", "replay")

Floats = npt.NDArray[np.float64]


class Actor(Protocol):
    def frame(self, t: float) -> RGBImage:
        """The scene at camera time ``t`` (seconds; called with non-decreasing times)."""
        ...

    def on_prompt(self, key: str | None, t: float) -> None:
        """The screen shows guidance ``key`` from camera time ``t`` (None: no guidance)."""
        ...


def plain_scene(colour: tuple[int, int, int]) -> RGBImage:
    frame = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


class StaticScene:
    """A fixed picture; prompts change nothing."""

    def __init__(self, image: RGBImage) -> None:
        self.image = image

    def frame(self, t: float) -> RGBImage:
        return self.image

    def on_prompt(self, key: str | None, t: float) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Ramp:
    """A value moving smoothly (cosine ease) from ``start`` to ``end`` over [t0, t0 + dur]."""

    t0: float
    dur: float
    start: float
    end: float

    def at(self, t: float) -> float:
        if t <= self.t0:
            return self.start
        if t >= self.t0 + self.dur:
            return self.end
        k = (1 - math.cos(math.pi * (t - self.t0) / self.dur)) / 2
        return self.start + (self.end - self.start) * k


class _Motion:
    """A value driven by ramps: each new target starts from wherever the value is then."""

    def __init__(self, value: float) -> None:
        self._ramps = [_Ramp(-1e9, 0.0, value, value)]

    def at(self, t: float) -> float:
        value = self._ramps[0].start
        for ramp in self._ramps:
            if ramp.t0 > t:
                break
            value = ramp.at(t)
        return value

    def move(self, t0: float, dur: float, target: float) -> None:
        self._ramps = [r for r in self._ramps if r.t0 <= t0]
        self._ramps.append(_Ramp(t0, dur, self.at(t0), target))


class LiveActor:
    """A live person: see the module docstring.

    :param face: the face photo (square RGB), used as the texture of the head.
    :param x, y, size: where the face's square sits in the frame at normal distance.
    :param start_size: the face's size when the person arrives (smaller: standing too far).
    :param start_yaw: the head's yaw when arriving (degrees; non-zero: not facing the camera).
    """

    def __init__(
        self,
        face: RGBImage | HeadModel,
        *,
        x: int = 195,
        y: int = 115,
        size: int = 250,
        background: tuple[int, int, int] = (200, 200, 200),
        seed: int = 0,
        start_size: int | None = None,
        start_yaw: float = 0.0,
        landmarks: Floats | None = None,
    ) -> None:
        self.head = face if isinstance(face, HeadModel) else HeadModel.from_photo(face, landmarks)
        self._rng = random.Random(seed)
        rng = self._rng
        self.background = background
        self.size = size
        self.centre = (x + size / 2, y + size / 2)
        self.turn_amplitude = rng.uniform(24.0, 34.0)
        """How far this person turns when asked (degrees)."""
        self.reaction_s = (rng.uniform(0.3, 0.55), rng.uniform(0.55, 0.9))
        self.turn_s = rng.uniform(0.35, 0.6)
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(6)]
        # A person facing the camera faces it whatever the pose of the photo the head was made
        # from: undo the photo's own turn (about 0.0065 of the yaw measure per degree), up to
        # 20 degrees. Photos turned further (6% of the LFW crops) cannot be portrayed facing
        # the camera: benchmarks/face.py counts their presentations apart.
        self.facing = max(-20.0, min(20.0, -self.head.photo_yaw() / 0.0065))
        self._yaw = _Motion(start_yaw)
        self._size = _Motion(float(start_size if start_size is not None else size))
        self._scene = plain_scene(background)

    def on_prompt(self, key: str | None, t: float) -> None:
        delay = self._rng.uniform(*self.reaction_s)
        # The head is rendered at most 38 degrees from the photo's own pose (one photo cannot
        # show more; see .head): from a photo turned 19 degrees, the turn towards its hidden
        # side is 19 degrees, which the kiosk sees as well as any other (its parallax).
        if key == "turn_left":
            self._yaw.move(t + delay, self.turn_s, min(self.turn_amplitude, 38 - self.facing))
        elif key == "turn_right":
            self._yaw.move(t + delay, self.turn_s, -min(self.turn_amplitude, 38 + self.facing))
        elif key in ("look_straight", "face_camera"):
            self._yaw.move(t + delay, self.turn_s, 0.0)
        elif key == "move_closer":
            self._size.move(t + delay, 0.8, float(self.size))

    def pose(self, t: float) -> tuple[float, float, float, float, float]:
        """(yaw, pitch, roll, dx, dy) at ``t``: the prompted turn plus natural small motion."""
        p = self._phases
        yaw = self.facing + self._yaw.at(t) + 1.5 * math.sin(2 * math.pi * 0.31 * t + p[0])
        pitch = 2.0 * math.sin(2 * math.pi * 0.23 * t + p[1])
        roll = 1.5 * math.sin(2 * math.pi * 0.17 * t + p[2])
        dx = 4.0 * math.sin(2 * math.pi * 0.13 * t + p[3])
        dy = 3.0 * math.sin(2 * math.pi * 0.27 * t + p[4])
        return yaw, pitch, roll, dx, dy

    def frame(self, t: float) -> RGBImage:
        yaw, pitch, roll, dx, dy = self.pose(t)
        size = self._size.at(t)
        scale = size / self.head.texture.shape[0]
        side = math.ceil(size * 1.1)
        # Rendered at half size and enlarged: the photos are 125 px crops shown at about 250 px,
        # so full-size warping adds no detail and took most of the demo's CPU.
        half = math.ceil(side / 2)
        small = self.head.render(
            yaw, pitch, roll_deg=roll, scale=scale / 2, out_size=(half, half),
            offset=self._centre_offset(scale / 2), background=self.background,
        )  # fmt: skip
        patch = np.asarray(
            Image.fromarray(small).resize((side, side), Image.Resampling.BILINEAR), dtype=np.uint8
        )
        frame = self._scene.copy()
        cx, cy = self.centre[0] + dx, self.centre[1] + dy
        _paste(frame, patch, round(cx - side / 2), round(cy - side / 2))
        return frame

    def _centre_offset(self, scale: float) -> tuple[float, float]:
        # The turning centre sits where it is in the photo relative to the photo's centre.
        th, tw = self.head.texture.shape[:2]
        return (self.head.centre[0] - tw / 2) * scale, (self.head.centre[1] - th / 2) * scale


def _paste(frame: RGBImage, patch: RGBImage, x: int, y: int) -> None:
    """Copy ``patch`` into ``frame`` at (x, y), clipped to the frame."""
    h, w = patch.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def homography(src: Floats, dst: Floats) -> Floats:
    """The 3 x 3 projective map taking 4 points ``src`` to ``dst`` (direct linear transform)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows, dtype=np.float64))
    h: Floats = vt[-1].reshape(3, 3)
    normalised: Floats = h / h[2, 2]
    return normalised


def _warp_into(
    frame: RGBImage, source: RGBImage, corners: Floats, *, alpha_edge: bool = False
) -> None:
    """Draw ``source`` into ``frame`` so that its corners land on ``corners`` (TL, TR, BR, BL)."""
    sh, sw = source.shape[:2]
    src = np.array([[0, 0], [sw - 1, 0], [sw - 1, sh - 1], [0, sh - 1]], dtype=np.float64)
    inverse = homography(corners, src)  # frame -> source
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    v, u = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    den = inverse[2, 0] * u + inverse[2, 1] * v + inverse[2, 2]
    sx = (inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]) / den
    sy = (inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]) / den
    inside = (sx >= 0) & (sx <= sw - 1) & (sy >= 0) & (sy <= sh - 1)
    region = frame[y0:y1, x0:x1]
    for c in range(3):
        sampled = ndimage.map_coordinates(source[:, :, c], [sy, sx], order=1, mode="nearest")
        region[:, :, c] = np.where(inside, sampled, region[:, :, c])


def _plane_corners(
    width: float, height: float, centre: tuple[float, float], yaw: float, pitch: float,
    roll: float, distance: float = 900.0,
) -> Floats:  # fmt: skip
    """Image corners of a flat rectangle (pixels at ``distance``) rotated in 3D, pinhole view."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    rot = rz @ rx @ ry
    w, h = width / 2, height / 2
    pts = np.array([[-w, -h, 0], [w, -h, 0], [w, h, 0], [-w, h, 0]], dtype=np.float64) @ rot.T
    z = distance + pts[:, 2]
    return np.stack(
        [centre[0] + distance * pts[:, 0] / z, centre[1] + distance * pts[:, 1] / z], axis=1
    )


def printed_photo(face: RGBImage, seed: int) -> RGBImage:
    """The photo as printed: a white paper border, halftone dots, paper's lower contrast."""
    rng = np.random.default_rng(seed)
    h, w = face.shape[:2]
    border = max(8, w // 12)
    paper = np.full((h + 2 * border, w + 2 * border, 3), 238.0)
    yy, xx = np.mgrid[0:h, 0:w]
    dots = 0.5 + 0.5 * np.sin(xx * 2.1) * np.sin(yy * 2.1)  # a fine halftone screen
    ink = face.astype(np.float64) * 0.85 + 20
    ink = ink * (0.93 + 0.07 * dots[:, :, None])
    paper[border : border + h, border : border + w] = ink
    paper += rng.normal(0, 2.0, paper.shape)
    return np.clip(paper, 0, 255).astype(np.uint8)


class PrintedPhotoActor:
    """A printed photo held up to the camera; ``moving`` tilts it, also when prompted."""

    def __init__(
        self,
        face: RGBImage,
        *,
        moving: bool,
        x: int = 195,
        y: int = 115,
        size: int = 250,
        background: tuple[int, int, int] = (200, 200, 200),
        seed: int = 0,
    ) -> None:
        self.moving = moving
        self.print = printed_photo(face, seed)
        rng = random.Random(seed)
        self._rng = rng
        scale = size / face.shape[0]
        self.width = self.print.shape[1] * scale
        self.height = self.print.shape[0] * scale
        self.centre = (x + size / 2, y + size / 2)
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(5)]
        self._tilt = _Motion(0.0)
        self._scene = plain_scene(background)

    def on_prompt(self, key: str | None, t: float) -> None:
        if not self.moving:
            return
        # The attacker tilts the paper the way the screen asks, as far as it still shows a face.
        delay = self._rng.uniform(0.3, 0.7)
        # (Turning the paper's right edge away moves the printed nose to the left of the eye
        # midpoint under perspective, as a head turning to its left does.)
        if key == "turn_left":
            self._tilt.move(t + delay, 0.5, -self._rng.uniform(30.0, 45.0))
        elif key == "turn_right":
            self._tilt.move(t + delay, 0.5, self._rng.uniform(30.0, 45.0))
        elif key in ("look_straight", "face_camera"):
            self._tilt.move(t + delay, 0.5, 0.0)

    def pose(self, t: float) -> tuple[float, float, float, float, float]:
        p = self._phases
        if not self.moving:  # held still: only a hand tremor
            return 0.0, 0.0, 0.3 * math.sin(9 * t + p[0]), 0.8 * math.sin(7 * t + p[1]), 0.0
        tilt = self._tilt.at(t)
        # Tilting about a slanted axis as well shears the face, which also moves the nose.
        yaw = tilt + 8 * math.sin(2 * math.pi * 0.4 * t + p[0])
        pitch = 0.35 * abs(tilt) * math.sin(p[4]) + 6 * math.sin(2 * math.pi * 0.3 * t + p[1])
        roll = 0.25 * tilt + 4 * math.sin(2 * math.pi * 0.2 * t + p[2])
        dx = 15 * math.sin(2 * math.pi * 0.25 * t + p[3])
        dy = 8 * math.sin(2 * math.pi * 0.35 * t + p[4])
        return yaw, pitch, roll, dx, dy

    def frame(self, t: float) -> RGBImage:
        yaw, pitch, roll, dx, dy = self.pose(t)
        corners = _plane_corners(
            self.width, self.height, (self.centre[0] + dx, self.centre[1] + dy), yaw, pitch, roll
        )
        frame = self._scene.copy()
        _warp_into(frame, self.print, corners)
        return frame


class PhoneReplayActor:
    """A phone replaying a recording of the traveller (turns included), looped, held up."""

    SCRIPT = (
        ("turn_left", 1.0),
        ("look_straight", 2.4),
        ("turn_right", 3.6),
        ("look_straight", 5.0),
    )

    def __init__(
        self,
        face: RGBImage | HeadModel,
        *,
        x: int = 195,
        y: int = 115,
        size: int = 250,
        background: tuple[int, int, int] = (200, 200, 200),
        seed: int = 0,
    ) -> None:
        rng = random.Random(seed)
        self._rng = rng
        # The recording: the traveller filmed at the same framing, turning as the script says
        # (the order of the two turns drawn once per recording).
        self.recording = LiveActor(
            face, x=195, y=115, size=250, background=(170, 165, 160), seed=seed
        )
        script = list(self.SCRIPT)
        if rng.random() < 0.5:
            script = [(k.replace("left", "X").replace("right", "left").replace("X", "right"), s)
                      for k, s in script]  # fmt: skip
        for key, at in script:
            self.recording.on_prompt(key, at)
        self.loop_s = 6.2
        self.phase = rng.uniform(0, self.loop_s)
        self.screen_h = size * 1.8
        self.screen_w = self.screen_h * 0.62
        self.centre = (x + size / 2, y + size / 2 + 10)
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
        self._scene = plain_scene(background)
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        self._moire = 7.0 * np.sin(0.71 * xx + 0.13 * yy) * np.sin(0.05 * xx - 0.09 * yy)

    def on_prompt(self, key: str | None, t: float) -> None:
        return None  # a recording does not listen

    def frame(self, t: float) -> RGBImage:
        tau = (t + self.phase) % self.loop_s
        shot = self.recording.frame(tau)
        # The screen shows the middle of the recording (portrait format, like a phone video).
        cw = round(HEIGHT * 0.62)
        x0 = (WIDTH - cw) // 2
        content = shot[:, x0 : x0 + cw].astype(np.float64) / 255.0
        content = 255.0 * (0.08 + 0.86 * content ** (1 / 1.25))  # screen gamma, black level
        content *= np.array([0.95, 0.98, 1.06])  # a cool white point
        screen = np.clip(content, 0, 255).astype(np.uint8)
        p = self._phases
        dx = 6 * math.sin(2 * math.pi * 0.3 * t + p[0])
        dy = 4 * math.sin(2 * math.pi * 0.4 * t + p[1])
        tilt = 4 * math.sin(2 * math.pi * 0.2 * t + p[2])
        cx, cy = self.centre[0] + dx, self.centre[1] + dy
        frame = self._scene.copy()
        bezel = np.full((10, 6, 3), 25, dtype=np.uint8)
        body = _plane_corners(self.screen_w * 1.12, self.screen_h * 1.1, (cx, cy), tilt, 0, 0)
        _warp_into(frame, bezel, body)
        glass = _plane_corners(self.screen_w, self.screen_h, (cx, cy), tilt, 0, 0)
        _warp_into(frame, screen, glass)
        x0b, y0b = np.floor(glass.min(axis=0)).astype(int).clip(0)
        x1b, y1b = np.ceil(glass.max(axis=0)).astype(int)
        region = frame[y0b:y1b, x0b:x1b]
        lit = region.astype(np.float64) + self._moire[y0b:y1b, x0b:x1b, None]
        region[:] = np.clip(lit, 0, 255).astype(np.uint8)
        return frame
