"""A simple 3D head made from one face photo, rendered at a yaw and pitch by a backward warp.

The photo is the texture of a relief: an ellipsoid (the skull and cheeks) plus a ridge for the
nose, placed from the face's 5-point landmarks (eye corners and the base of the nose). A head
turn moves each pixel by its depth (weak perspective, ``x' = x cos(yaw) + z sin(yaw)``): the nose
moves further than the eyes, and the eye turning away is foreshortened more than the other one.
That is what a real turning head does and what no planar (paper or screen) transformation of
the photo can do, so the kiosk's parallax check has something real to find.

The inverse of the warp has no closed form (the depth depends on the source point). The yaw
is inverted exactly along each texture row, hiding what the turned head hides (the far cheek
behind the nose); the small pitch by fixed-point iteration. Then
``scipy.ndimage.map_coordinates`` samples the photo. One photo cannot show what it did not see:
turned much more than about 40 degrees from the photo's own pose, the near side is a stretched
smear, so the actors keep their turns within that (:class:`~.actors.LiveActor`).

Units: pixels of the texture; the depth is scaled by the inter-ocular distance (IOD) so every
face gets the same proportions (real heads: nose base about 0.35 IOD in front of the eye corners,
head half-width about 1.2 IOD).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import ImageFile
from scipy import ndimage

from bordergate.native import DLIB_LOCK
from hardware_mocks.interfaces import RGBImage

Floats = npt.NDArray[np.float64]

# Landmarks of the 5-point model on an aligned (deep-funnelled) LFW crop, as fractions of the
# crop side: image-right eye outer, inner; image-left eye outer, inner; base of the nose.
# Used when dlib cannot find the face in the texture.
CANONICAL_LANDMARKS = np.array(
    [[0.700, 0.395], [0.565, 0.400], [0.300, 0.395], [0.435, 0.400], [0.500, 0.580]]
)


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[object, object] | None:
    """face_recognition's HOG detector and 5-point predictor, or None if not installed."""
    if importlib.util.find_spec("face_recognition_models") is None:
        return None
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        api = importlib.import_module("face_recognition.api")
    except Exception:  # pragma: no cover - a broken install: fall back to the canonical points
        return None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated  # face_recognition flips it on import
    return api.face_detector, api.pose_predictor_5_point


def find_landmarks(texture: RGBImage) -> Floats:
    """The 5 landmarks (x, y) of the face in ``texture`` (canonical ones if none is found)."""
    models = _dlib_models()
    if models is not None:
        detector, predictor = models
        image = np.ascontiguousarray(texture)
        with DLIB_LOCK:  # the kiosk may be verifying in a worker thread with the same models
            rects = detector(image, 1)  # type: ignore[operator]
            if len(rects) >= 1:
                rect = max(rects, key=lambda r: r.width())
                shape = predictor(image, rect)  # type: ignore[operator]
                return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    side = np.array([texture.shape[1], texture.shape[0]], dtype=np.float64)
    return CANONICAL_LANDMARKS * side


@dataclass(frozen=True, slots=True, eq=False)
class HeadModel:
    """A face photo with a depth map (pixels, positive towards the camera)."""

    texture: RGBImage
    landmarks: Floats
    depth: Floats
    centre: tuple[float, float]
    """The point the head turns about (x, y), in texture pixels."""
    iod: float

    @classmethod
    def from_photo(cls, texture: RGBImage, landmarks: Floats | None = None) -> HeadModel:
        points = find_landmarks(texture) if landmarks is None else landmarks
        right_eye = points[0:2].mean(axis=0)
        left_eye = points[2:4].mean(axis=0)
        nose = points[4]
        iod = float(np.linalg.norm(right_eye - left_eye))
        mid = (right_eye + left_eye) / 2
        cx, cy = float(mid[0]), float(mid[1] + 0.35 * iod)
        h, w = texture.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        ex, ey = (xx - cx) / (1.2 * iod), (yy - cy) / (1.6 * iod)
        skull = 0.95 * iod * np.sqrt(np.clip(1.0 - ex**2 - ey**2, 0.0, None))
        # The nose: a ridge from between the eyes down to its base, highest just above the base.
        along = np.clip((yy - mid[1]) / max(nose[1] - mid[1], 1.0), 0.0, 1.15)
        ridge = 0.38 * iod * along * np.exp(-((xx - nose[0]) ** 2) / (2 * (0.16 * iod) ** 2))
        ridge *= np.exp(-(np.clip(yy - nose[1], 0.0, None) ** 2) / (2 * (0.08 * iod) ** 2))
        depth = skull + ridge
        return cls(np.ascontiguousarray(texture), points, depth, (cx, cy), iod)

    def render(
        self,
        yaw_deg: float,
        pitch_deg: float = 0.0,
        *,
        roll_deg: float = 0.0,
        scale: float = 1.0,
        out_size: tuple[int, int] | None = None,
        offset: tuple[float, float] = (0.0, 0.0),
        background: tuple[int, int, int] = (128, 128, 128),
    ) -> RGBImage:
        """The head turned by ``yaw_deg`` (positive: to the person's left, i.e. the nose moves
        to the image's right) and ``pitch_deg`` (positive: chin up), rolled, scaled about the
        turning centre, which lands at the output's centre plus ``offset``."""
        th, tw = self.texture.shape[:2]
        ow, oh = out_size if out_size is not None else (round(tw * scale), round(th * scale))
        yaw, pitch, roll = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
        cx, cy = self.centre
        v, u = np.mgrid[0:oh, 0:ow].astype(np.float64)
        # Output pixel -> turned-head coordinates (undo placement, scale and roll).
        u = (u - (ow / 2 + offset[0])) / scale
        v = (v - (oh / 2 + offset[1])) / scale
        cr, sr = math.cos(roll), math.sin(roll)
        u, v = cr * u + sr * v, -sr * u + cr * v
        cyaw, syaw, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
        # The yaw is inverted exactly, row by row of the texture (x cos(yaw) + z sin(yaw) = u
        # has no closed form, and a fixed-point iteration diverges where the face's side is
        # steep: it left holes in the near cheek from about 30 degrees). The pitch (a few
        # degrees) converges by iteration.
        # Rendered smaller than the texture, every other texture pixel is enough for the map.
        unturn = _YawInverse(self, cyaw, syaw, stride=2 if scale <= 0.55 else 1)
        y = v / cp
        x = unturn(u, y + cy) - cx
        z = ndimage.map_coordinates(self.depth, [y + cy, x + cx], order=1, mode="constant")
        y = (v + z * sp) / cp
        x = unturn(u, y + cy) - cx
        out = np.empty((oh, ow, 3), dtype=np.uint8)
        coords = [y + cy, x + cx]
        for c in range(3):
            out[:, :, c] = ndimage.map_coordinates(
                self.texture[:, :, c], coords, order=1, mode="constant", cval=background[c]
            )
        return out

    def photo_yaw(self) -> float:
        """The photo's own turn: the nose's offset from the eye midpoint along the eye line,
        in eye distances (the kiosk's yaw measure; 0 for a frontal photo)."""
        right = self.landmarks[0:2].mean(axis=0)
        left = self.landmarks[2:4].mean(axis=0)
        eye = right - left
        return float(np.dot(self.landmarks[4] - (right + left) / 2, eye) / max(eye @ eye, 1e-6))


class _YawInverse:
    """Texture x (pixels) of the surface point seen at turned x ``u`` (relative to the turning
    centre) on a texture row (fractional: the two rows are blended), for one yaw.

    Each texture row maps forward to ``x cos + z sin``; walking the row from the side nearer
    the camera, a point whose image lies behind what was already seen is hidden (the far
    cheek behind the nose, the ear behind the face), so the visible points are monotonic and
    one interpolation per row inverts them. All rows are inverted in one ``np.interp`` call by
    offsetting each row's values by a multiple of ``gap``. ``stride``: the texture pixels
    sampled for the table."""

    def __init__(self, head: HeadModel, cyaw: float, syaw: float, *, stride: int = 1) -> None:
        depth = head.depth[::stride, ::stride]
        th, tw = depth.shape
        self.cx, self.cyaw, self.stride, self.rows = head.centre[0], cyaw, stride, th
        xs = np.arange(tw, dtype=np.float64) * stride
        turned = (xs - self.cx) * cyaw + depth * syaw
        self.sign = 1.0 if syaw >= 0 else -1.0
        if self.sign < 0:  # walk from the image's right: mirror, so the walk goes rightwards
            turned, xs = -turned[:, ::-1], xs[::-1]
        seen = np.maximum.accumulate(turned, axis=1)
        visible = np.ones_like(turned, dtype=bool)
        visible[:, 1:] = turned[:, 1:] > seen[:, :-1]
        self.gap = 4.0 * (tw + th + float(np.abs(depth).max())) * stride
        offsets = np.arange(th, dtype=np.float64)[:, None] * self.gap
        self.keys = (turned + offsets)[visible]
        self.values = np.broadcast_to(xs, turned.shape)[visible]
        self.lo, self.hi = turned[:, 0], seen[:, -1]

    def __call__(self, u: Floats, rows: Floats) -> Floats:
        th = self.rows
        flat = self.cx + u / self.cyaw  # beyond the texture: no depth, as the background
        rows = rows / self.stride
        query = self.sign * u
        r0 = np.clip(np.floor(rows), 0, th - 1).astype(np.intp)
        r1 = np.minimum(r0 + 1, th - 1)
        w = np.clip(rows - r0, 0.0, 1.0)
        out = np.zeros_like(u)
        for r, weight in ((r0, 1.0 - w), (r1, w)):
            q = np.clip(query, self.lo[r], self.hi[r])
            x = np.interp(q + r * self.gap, self.keys, self.values)
            out += weight * np.where(query == q, x, flat)
        result: Floats = np.where((rows < 0) | (rows > th - 1), flat, out)
        return result
