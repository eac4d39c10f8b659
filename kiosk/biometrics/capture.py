"""Per-frame face analysis for the kiosk's capture: detection, tracking, 5-point landmarks and
quality, with the guidance key the traveller's screen shows.

CPU (measured on this machine, 640 x 480): the HOG detector on a half-size frame (320 x 240,
no upsampling) costs about 6 ms and finds faces from about 160 px (full-size pixels); the full
frame is searched (about 22 ms, faces from 80 px) only when the half-size search finds nothing.
Between detections the face is *tracked*: the 5-point landmark model (0.3 ms) runs in the box
predicted from the previous landmarks, and a full detection runs every ``detect_every`` frames
to count faces (somebody stepping in) and re-anchor the track. No frame is encoded here.

Geometry (image coordinates, x to the right; the 5-point model's points are the image-right
eye's outer and inner corners, the image-left eye's outer and inner corners, the base of the
nose):

* ``iod``: distance between the eye centres (pixels), the face's size;
* ``yaw``: the nose's offset from the eye midpoint along the eye line, divided by the eye
  distance (about 0 facing the camera; positive when the nose points to the image's right,
  i.e. the person turned to their left; about 0.15-0.2 at a 25 degree turn);
* ``eye_ratio``: log(width of the image-right eye / width of the image-left eye); a turning head
  foreshortens the eye turning away. Too weak a cue to tell a tilted picture from a turned head
  with 5 points (the liveness check uses the parallax of the whole face instead, see
  :mod:`kiosk.biometrics.parallax`); kept as a descriptive measure.

Nothing here is logged; observations hold geometry only, never pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from . import RGBImage

GUIDANCE_KEYS: Final = (
    "move_closer",
    "face_camera",
    "hold_still",
    "one_person_only",
    "more_light",
    "turn_left",
    "turn_right",
    "look_straight",
)
"""Every ``prompt`` key the face step sends to the traveller's screen (it translates them);
keep these stable. ``turn_left`` means the traveller's own left."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """What makes a frame good enough to verify and to start the challenge from."""

    min_iod_px: float = 55.0
    """Eye distance; about 140 px of face width at 640 x 480 (ICAO asks 90 px IOD for a
    portrait; the kiosk's encoder resamples the face to 150 px anyway)."""
    max_abs_yaw: float = 0.15
    """The yaw proxy of a frontal face (about 20 degrees)."""
    min_sharpness: float = 2.5
    """Variance of the Laplacian of the middle of the face box at half resolution, per 100
    of the grey variance there (contrast-normalised). The LFW crops, upscaled twice, measure
    4-14 sharp; a motion blur of 15 px takes them to 2-6, so only heavy blur is refused."""
    min_brightness: float = 60.0
    max_brightness: float = 225.0


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """One analysed frame: geometry and quality (no pixels)."""

    t: float
    faces: int
    """Faces found (0, 1 or more); a tracked frame counts its one tracked face."""
    box: tuple[int, int, int, int] | None = None
    """(left, top, right, bottom) of the tracked face in full-size pixels."""
    landmarks: Floats | None = field(default=None, repr=False)
    iod: float = 0.0
    yaw: float = 0.0
    eye_ratio: float = 0.0
    roll: float = 0.0
    """Angle of the eye line (degrees, image coordinates)."""
    sharpness: float = 0.0
    brightness: float = 0.0
    problem: str | None = "face_camera"
    """The guidance key for what is wrong, or None for a good frame."""

    @property
    def good(self) -> bool:
        return self.problem is None

    @property
    def quality(self) -> float:
        """Ranks good frames for verification: sharp, large, frontal."""
        return math.log1p(self.sharpness) + math.log(max(self.iod, 1.0)) - 8.0 * abs(self.yaw)


def geometry(points: Floats) -> tuple[float, float, float]:
    """(iod, yaw, eye_ratio) of 5-point landmarks; see the module docstring."""
    right = points[0:2].mean(axis=0)
    left = points[2:4].mean(axis=0)
    eye = right - left
    iod = float(np.hypot(eye[0], eye[1]))
    if iod < 1e-6:
        return 0.0, 0.0, 0.0
    yaw = float(np.dot(points[4] - (right + left) / 2, eye) / iod**2)
    w_right = float(np.linalg.norm(points[0] - points[1]))
    w_left = float(np.linalg.norm(points[2] - points[3]))
    ratio = math.log(max(w_right, 1e-3) / max(w_left, 1e-3))
    return iod, yaw, ratio


def _sharpness_brightness(image: RGBImage, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Laplacian variance and mean grey level of the face box, at half resolution."""
    left, top, right, bottom = box
    # The central part of the box: the face's own detail, not its outline against the scene.
    dx, dy = (right - left) // 5, (bottom - top) // 5
    left, top, right, bottom = left + dx, top + dy, right - dx, bottom - dy
    h, w = image.shape[:2]
    crop = image[max(top, 0) : min(bottom, h) : 2, max(left, 0) : min(right, w) : 2]
    if crop.shape[0] < 5 or crop.shape[1] < 5:
        return 0.0, 0.0
    grey = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    # Normalised by the crop's contrast, so a low-contrast face is not taken for a blurred one.
    return float(lap.var() / max(float(grey.var()), 1.0) * 100.0), float(grey.mean())


class FaceAnalyzer:
    """Analyses the frames of one transaction in order (it keeps the track between frames).

    Create one per transaction (:meth:`FaceRecognitionVerifier.analyzer`); it holds the last
    landmarks only, which go with it.
    """

    def __init__(
        self,
        backend: Any,
        lock: Any,
        limits: QualityLimits | None = None,
        *,
        detect_every: int = 4,
    ) -> None:
        self._dlib = __import__("dlib")
        self._detector = backend.api.face_detector
        self._predictor = backend.api.pose_predictor_5_point
        self._lock = lock
        self.limits = limits or QualityLimits()
        self.detect_every = detect_every
        self._track: Floats | None = None
        self._track_box: tuple[int, int, int, int] | None = None
        self._since_detection = 0
        self._misses = 0
        self.max_misses = 8
        """Detections in a row that may miss a tracked face (a turned head) before it is lost."""
        self._anchor = np.zeros(2)
        """Box centre minus the landmarks' centroid, at the last detection."""
        self.detections = 0
        """Full detections run (for the CPU figures)."""

    def reset(self) -> None:
        self._misses = 0
        self._track = None
        self._track_box = None

    def _detect(self, image: RGBImage) -> list[tuple[int, int, int, int]]:
        self.detections += 1
        half = np.ascontiguousarray(image[::2, ::2])
        rects = self._detector(half, 0)
        boxes = [(r.left() * 2, r.top() * 2, r.right() * 2, r.bottom() * 2) for r in rects]
        if not boxes:  # a smaller face: look at full size (about 4x the cost)
            rects = self._detector(image, 0)
            boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return boxes

    def _landmarks(self, image: RGBImage, box: tuple[int, int, int, int]) -> Floats:
        shape = self._predictor(image, self._dlib.rectangle(*box))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def observe(self, image: RGBImage, t: float) -> FaceObservation:
        """Analyse one frame (C-contiguous RGB uint8)."""
        with self._lock:
            faces = 1
            box = self._predicted_box()
            if box is None or self._since_detection >= self.detect_every:
                boxes = self._detect(image)
                self._since_detection = 0
                faces = len(boxes)
                if faces == 0:
                    # The frontal detector misses a turned head: keep tracking it for a while.
                    self._misses += 1
                    if box is None or self._misses > self.max_misses:
                        self.reset()
                        return FaceObservation(t=t, faces=0, problem="face_camera")
                    faces = 1
                elif box is None or faces > 1:
                    box = max(boxes, key=lambda b: b[2] - b[0])
                    self._track_box = box
                    self._misses = 0
                else:  # re-anchor on the detection nearest the track
                    box = min(boxes, key=lambda b: abs(b[0] - box[0]) + abs(b[1] - box[1]))  # type: ignore[index]
                    self._track_box = box
                    self._misses = 0
            detected = self._since_detection == 0 and self._misses == 0
            self._since_detection += 1
            points = self._landmarks(image, box)
        if detected:
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            self._anchor = centre - points.mean(axis=0)
        else:
            self._track_box = box
        iod, yaw, ratio = geometry(points)
        eye = points[0:2].mean(axis=0) - points[2:4].mean(axis=0)
        roll = math.degrees(math.atan2(eye[1], eye[0]))
        width = box[2] - box[0]
        if not 0.2 * width <= iod <= 0.8 * width:  # the landmarks lost the face
            self.reset()
            return FaceObservation(t=t, faces=0, problem="face_camera")
        self._track = points
        sharp, bright = _sharpness_brightness(image, box)
        limits = self.limits
        problem: str | None = None
        if faces > 1:
            problem = "one_person_only"
        elif iod < limits.min_iod_px:
            problem = "move_closer"
        elif abs(yaw) > limits.max_abs_yaw:
            problem = "face_camera"
        elif bright < limits.min_brightness:
            problem = "more_light"
        elif sharp < limits.min_sharpness:
            problem = "hold_still"
        return FaceObservation(
            t=t, faces=faces, box=box, landmarks=points, iod=iod, yaw=yaw, eye_ratio=ratio,
            roll=roll, sharpness=sharp, brightness=bright, problem=problem,
        )  # fmt: skip

    def _predicted_box(self) -> tuple[int, int, int, int] | None:
        """The box for the next frame: the last detection's size, where the landmarks now are."""
        if self._track is None or self._track_box is None:
            return None
        left, top, right, bottom = self._track_box
        cx, cy = self._track.mean(axis=0) + self._anchor
        half_w, half_h = (right - left) / 2, (bottom - top) / 2
        return (round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h))
