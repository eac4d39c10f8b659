"""The planar-parallax score on exact geometry (fast: no dlib): the mock's 3D head turning
scores well above the threshold, a print tilted in any direction well below it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from skimage import data

from hardware_mocks.face_video.actors import _plane_corners, _warp_into, homography, plain_scene
from hardware_mocks.face_video.head import CANONICAL_LANDMARKS, HeadModel
from kiosk.biometrics.liveness import PARALLAX_THRESHOLD
from kiosk.biometrics.parallax import parallax_score

# The astronaut's face, with its 5 landmarks placed by hand (x, y in the 250 px crop).
FACE_POINTS = np.array([[172.0, 100], [140, 102], [62, 100], [94, 102], [118, 150]])


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    pixels = data.astronaut()[40:200, 150:310]  # type: ignore[no-untyped-call]
    return np.asarray(Image.fromarray(pixels).resize((250, 250), Image.Resampling.LANCZOS))


def head_points(head: HeadModel, yaw_deg: float) -> np.ndarray:
    """Where the landmarks land in ``head.render(yaw_deg)`` (forward weak perspective)."""
    cx, _ = head.centre
    depth = head.depth[head.landmarks[:, 1].astype(int), head.landmarks[:, 0].astype(int)]
    yaw = math.radians(yaw_deg)
    out = head.landmarks.copy()
    out[:, 0] = cx + (head.landmarks[:, 0] - cx) * math.cos(yaw) + depth * math.sin(yaw)
    return out


@pytest.mark.parametrize("yaw", [-30.0, -20.0, 20.0, 30.0])
def test_a_turning_head_shows_parallax(face: np.ndarray, yaw: float) -> None:
    head = HeadModel.from_photo(face, FACE_POINTS)
    frontal, turned = head.render(0.0), head.render(yaw)
    score = parallax_score(frontal, head_points(head, 0.0), turned, head_points(head, yaw))
    assert score >= 2 * PARALLAX_THRESHOLD


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(35, 0, 0), (-40, 10, 8), (0, 30, 0)])
def test_a_tilted_print_does_not(face: np.ndarray, yaw: float, pitch: float, roll: float) -> None:
    side = face.shape[0]
    src = np.array([[0, 0], [side - 1, 0], [side - 1, side - 1], [0, side - 1]], dtype=float)

    def shot(y: float, p: float, r: float) -> tuple[np.ndarray, np.ndarray]:
        frame = plain_scene((200, 200, 200))
        corners = _plane_corners(side, side, (320, 240), y, p, r, distance=500.0)
        _warp_into(frame, face, corners)
        h = homography(src, corners)
        pts = np.hstack([FACE_POINTS, np.ones((5, 1))]) @ h.T
        return frame, pts[:, :2] / pts[:, 2:]

    (f0, p0), (f1, p1) = shot(0, 0, 0), shot(yaw, pitch, roll)
    score = parallax_score(f0, p0, f1, p1)
    assert score < 0.5 * PARALLAX_THRESHOLD


def test_a_featureless_face_is_undecided() -> None:
    """No texture, no flow: NaN, which the challenge takes as flat (fail closed)."""
    blank = plain_scene((128, 128, 128))
    points = CANONICAL_LANDMARKS * 250 + 100
    assert math.isnan(parallax_score(blank, points, blank, points))
