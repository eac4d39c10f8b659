"""Seeded, composable degradations of a rendered page, and the three benchmark conditions.

A :class:`Capture` is an image in flight plus the homography from page pixels to image pixels,
so the ground truth can say where the document and each MRZ line ended up. Each step is a small
frozen dataclass holding parameter ranges; calling it with a ``numpy.random.Generator`` draws
its parameters, applies it, and records what it drew in ``Capture.applied``.

Conditions (parameters chosen so that a person can still read every MRZ character):

* ``clean``: a flatbed document reader at 300-400 dpi: slight sensor noise only;
* ``degraded``: the same reader with the page placed askew (rotation up to 5 degrees) on a dark
  glass, uneven illumination, blur, noise and JPEG compression (quality 40-70);
* ``camera``: a hand-held camera: the booklet seen in perspective (tilt up to 25 degrees), on a
  desk, in a 1280 x 960 frame (about 180-240 dpi on the page), with glare, uneven light, a
  colour cast, blur, noise and JPEG compression.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

Homography = npt.NDArray[np.float64]
Condition = Literal["clean", "degraded", "camera"]
CONDITIONS: tuple[Condition, ...] = ("clean", "degraded", "camera")


@dataclass(frozen=True, slots=True)
class Capture:
    image: Image.Image
    page_to_image: Homography
    """3 x 3: page pixel (x, y, 1) -> image pixel (homogeneous)."""
    page_size: tuple[int, int]
    dpi: int
    """Resolution of the rendered page."""
    applied: tuple[dict[str, Any], ...] = ()
    jpeg: bytes | None = None
    """The JPEG file as encoded last (the image is its decoding); None if not JPEG."""

    def then(
        self,
        image: Image.Image,
        step: dict[str, Any],
        transform: Homography | None = None,
        jpeg: bytes | None = None,
    ) -> Capture:
        matrix = self.page_to_image if transform is None else transform @ self.page_to_image
        return replace(
            self, image=image, page_to_image=matrix, applied=(*self.applied, step), jpeg=jpeg
        )

    def map_points(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Page pixel coordinates -> image pixel coordinates."""
        return map_points(self.page_to_image, points)


def start(page: Image.Image, dpi: int) -> Capture:
    return Capture(image=page, page_to_image=np.eye(3), page_size=page.size, dpi=dpi)


class Step(Protocol):
    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture: ...


def map_points(
    matrix: Homography, points: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    pts = np.array([[x, y, 1.0] for x, y in points], dtype=np.float64).T
    out = matrix @ pts
    return [(float(x / w), float(y / w)) for x, y, w in out.T]


def warp(
    image: Image.Image,
    matrix: Homography,
    size: tuple[int, int],
    fill: tuple[int, ...],
    resample: Image.Resampling = Image.Resampling.BICUBIC,
) -> Image.Image:
    """``image`` mapped by ``matrix`` (source pixel -> destination pixel) into ``size``."""
    inverse = np.linalg.inv(matrix)
    inverse = inverse / inverse[2, 2]
    coeffs = tuple(float(v) for v in inverse.flatten()[:8])
    return image.transform(size, Image.Transform.PERSPECTIVE, coeffs, resample, fillcolor=fill)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _to_array(image: Image.Image) -> npt.NDArray[np.float32]:
    return np.asarray(image, dtype=np.float32)


def _from_array(array: npt.NDArray[np.float32]) -> Image.Image:
    array += 0.5
    np.clip(array, 0, 255, out=array)
    return Image.fromarray(array.astype(np.uint8), "RGB")


def _smooth_field(
    size: tuple[int, int], rng: np.random.Generator, *, cells: int = 4
) -> npt.NDArray[np.float32]:
    """A smooth random field in [0, 1]: a linear gradient plus a few soft blobs."""
    w, h = size
    sw, sh = 48, max(8, round(48 * h / max(w, 1)))
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xs /= sw
    ys /= sh
    angle = rng.uniform(0, 2 * math.pi)
    value = xs * math.cos(angle) + ys * math.sin(angle)
    for _ in range(cells):
        cx, cy = rng.uniform(-0.2, 1.2, size=2)
        radius = rng.uniform(0.25, 0.7)
        value += rng.uniform(-0.8, 0.8) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / radius**2)
    value = (value - value.min()) / max(float(value.max() - value.min()), 1e-6)
    small = Image.fromarray((value * 255).astype(np.uint8), "L")
    return np.asarray(small.resize(size, Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


@dataclass(frozen=True, slots=True)
class Noise:
    """Gaussian sensor noise, ``sigma`` in grey levels."""

    sigma: tuple[float, float] = (1.0, 2.5)

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        sigma = _uniform(rng, self.sigma)
        array = _to_array(capture.image)
        noise = rng.standard_normal(size=array.shape[:2], dtype=np.float32)
        noise *= sigma
        array += noise[..., None]  # luminance noise
        return capture.then(_from_array(array), {"name": "noise", "sigma": round(sigma, 3)})


@dataclass(frozen=True, slots=True)
class Blur:
    """Gaussian blur (defocus), ``sigma`` in output pixels."""

    sigma: tuple[float, float] = (0.5, 1.3)

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        sigma = _uniform(rng, self.sigma)
        image = capture.image.filter(ImageFilter.GaussianBlur(sigma))
        return capture.then(image, {"name": "blur", "sigma_px": round(sigma, 3)})


@dataclass(frozen=True, slots=True)
class UnevenLight:
    """Multiplicative illumination falling to ``1 - strength`` across the image."""

    strength: tuple[float, float] = (0.15, 0.35)

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        strength = _uniform(rng, self.strength)
        light = 1.0 - strength * _smooth_field(capture.image.size, rng)
        array = _to_array(capture.image) * light[..., None]
        return capture.then(
            _from_array(array), {"name": "uneven_light", "strength": round(strength, 3)}
        )


@dataclass(frozen=True, slots=True)
class Glare:
    """A soft specular highlight (additive, up to ``amplitude`` grey levels) and a colour cast."""

    amplitude: tuple[float, float] = (40.0, 110.0)
    size: tuple[float, float] = (0.08, 0.22)
    """Blob standard deviation as a fraction of the image width."""
    cast: float = 0.06

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        w, h = capture.image.size
        amplitude = _uniform(rng, self.amplitude)
        sx = _uniform(rng, self.size) * w
        sy = sx * rng.uniform(0.4, 1.0)
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        ys, xs = np.ogrid[0:h, 0:w]
        angle = rng.uniform(0, math.pi)
        dx, dy = xs - cx, ys - cy
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = -dx * math.sin(angle) + dy * math.cos(angle)
        blob = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2)).astype(np.float32)
        gains = 1.0 + rng.uniform(-self.cast, self.cast, size=3).astype(np.float32)
        array = _to_array(capture.image) * gains + amplitude * blob[..., None]
        step = {
            "name": "glare",
            "amplitude": round(amplitude, 1),
            "centre": [round(float(cx), 1), round(float(cy), 1)],
            "colour_gains": [round(float(g), 3) for g in gains],
        }
        return capture.then(_from_array(array), step)


@dataclass(frozen=True, slots=True)
class Jpeg:
    quality: tuple[int, int] = (40, 70)

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        quality = int(rng.integers(self.quality[0], self.quality[1] + 1))
        buffer = io.BytesIO()
        capture.image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        with Image.open(io.BytesIO(data)) as decoded:
            image = decoded.convert("RGB")
        return capture.then(image, {"name": "jpeg", "quality": quality}, jpeg=data)


@dataclass(frozen=True, slots=True)
class Rotate:
    """The page placed askew on the reader glass: rotated up to ``max_degrees`` either way, on a
    dark background, the frame grown to hold it with a small margin."""

    max_degrees: float = 5.0
    background: tuple[int, int] = (22, 48)
    margin: float = 0.03

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        degrees = float(rng.uniform(-self.max_degrees, self.max_degrees))
        w, h = capture.image.size
        theta = math.radians(degrees)
        c, s = math.cos(theta), math.sin(theta)
        corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        rotated = map_points(rotation, corners)
        xs = [p[0] for p in rotated]
        ys = [p[1] for p in rotated]
        pad = self.margin * max(w, h)
        out_w = math.ceil(max(xs) - min(xs) + 2 * pad)
        out_h = math.ceil(max(ys) - min(ys) + 2 * pad)
        shift = np.array([[1.0, 0.0, pad - min(xs)], [0.0, 1.0, pad - min(ys)], [0.0, 0.0, 1.0]])
        matrix = shift @ rotation
        grey = int(rng.integers(self.background[0], self.background[1] + 1))
        image = warp(capture.image, matrix, (out_w, out_h), (grey, grey, grey))
        return capture.then(image, {"name": "rotate", "degrees": round(degrees, 3)}, matrix)


def _rotation(pitch: float, yaw: float, roll: float) -> npt.NDArray[np.float64]:
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cz, sz = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]], dtype=np.float64)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=np.float64)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]], dtype=np.float64)
    return rz @ ry @ rx


def _desk(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A plain surface under the document: a dull colour, a soft gradient, fine texture."""
    w, h = size
    small = (max(1, w // 3), max(1, h // 3))
    base = rng.uniform(40, 150, size=3).astype(np.float32) * rng.uniform(0.6, 1.0)
    shade = 0.75 + 0.35 * _smooth_field(small, rng, cells=2)
    grain = rng.standard_normal(size=(small[1], small[0]), dtype=np.float32)
    array = base[None, None, :] * shade[..., None] + 6.0 * grain[..., None]
    return _from_array(array).resize(size, Image.Resampling.BILINEAR)


@dataclass(frozen=True, slots=True)
class CameraView:
    """The document photographed by a hand-held camera.

    The page (with, for a passport, the booklet's cover edge and the facing page above it) lies
    on a desk; the camera looks at it from ``distance_mm`` with the page tilted by up to
    ``max_tilt`` degrees about both axes and rolled by up to ``max_roll``; the document spans
    ``fill`` of the frame's width or height, whichever binds. Rendered at twice the frame size
    and reduced, so thin lines do not alias.
    """

    frame: tuple[int, int] = (1280, 960)
    max_tilt: float = 25.0
    max_roll: float = 8.0
    distance_mm: tuple[float, float] = (220.0, 420.0)
    fill: tuple[float, float] = (0.72, 0.90)
    supersample: int = 2

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        page = capture.image
        pw, ph = page.size
        px_per_mm = capture.dpi / 25.4
        booklet, offset = _with_surround(page, px_per_mm, rng)
        pitch = math.radians(rng.uniform(-self.max_tilt, self.max_tilt))
        yaw = math.radians(rng.uniform(-self.max_tilt * 0.8, self.max_tilt * 0.8))
        roll = math.radians(rng.uniform(-self.max_roll, self.max_roll))
        distance = _uniform(rng, self.distance_mm)
        rot = _rotation(pitch, yaw, roll)
        # page pixel -> millimetres, centred on the page
        to_mm = np.array(
            [
                [1 / px_per_mm, 0, -pw / px_per_mm / 2],
                [0, 1 / px_per_mm, -ph / px_per_mm / 2],
                [0, 0, 1],
            ]
        )
        project = np.column_stack([rot[:, 0], rot[:, 1], np.array([0.0, 0.0, distance])])
        projective = project @ to_mm  # page pixel -> camera plane (focal length 1)
        corners = map_points(projective, [(0, 0), (pw, 0), (pw, ph), (0, ph)])
        xs = [p[0] for p in corners]
        ys = [p[1] for p in corners]
        fw, fh = self.frame
        fill = _uniform(rng, self.fill)
        scale = min(fill * fw / (max(xs) - min(xs)), fill * fh / (max(ys) - min(ys)))
        span_w = (max(xs) - min(xs)) * scale
        span_h = (max(ys) - min(ys)) * scale
        left = rng.uniform(0.02 * fw, max(0.02 * fw, 0.98 * fw - span_w))
        top = rng.uniform(0.02 * fh, max(0.02 * fh, 0.98 * fh - span_h))
        place = np.array(
            [[scale, 0, left - min(xs) * scale], [0, scale, top - min(ys) * scale], [0, 0, 1]]
        )
        page_to_frame = place @ projective
        k = self.supersample
        up = np.diag([float(k), float(k), 1.0])
        from_booklet = np.array([[1.0, 0, -offset[0]], [0, 1.0, -offset[1]], [0, 0, 1]])
        big = (fw * k, fh * k)
        matrix = up @ page_to_frame @ from_booklet
        warped = warp(booklet.convert("RGBa"), matrix, big, (0, 0, 0, 0), Image.Resampling.BILINEAR)
        warped = warped.reduce(k).convert("RGBA")  # premultiplied while averaging: no dark fringe
        desk = _desk(self.frame, rng).convert("RGBA")
        desk.alpha_composite(warped)
        image = desk.convert("RGB")
        tl, tr, br, bl = map_points(page_to_frame, [(0, 0), (pw, 0), (pw, ph), (0, ph)])
        edges_px = math.dist(tl, tr) + math.dist(bl, br)
        effective_dpi = edges_px / 2 / (pw / capture.dpi)
        step = {
            "name": "camera_view",
            "pitch_deg": round(math.degrees(pitch), 2),
            "yaw_deg": round(math.degrees(yaw), 2),
            "roll_deg": round(math.degrees(roll), 2),
            "distance_mm": round(distance, 1),
            "frame": [fw, fh],
            "approx_dpi": round(effective_dpi, 1),
        }
        return capture.then(image, step, page_to_frame)


def _with_surround(
    page: Image.Image, px_per_mm: float, rng: np.random.Generator
) -> tuple[Image.Image, tuple[int, int]]:
    """The page on its booklet: a cover edge (3 mm) on three sides and the facing page above
    (for a page wider than a card); a card is returned as is. Returns (image, page offset)."""
    pw, ph = page.size
    if pw / px_per_mm < 100:  # a TD1 card
        return page, (0, 0)
    edge = round(3 * px_per_mm)
    facing = round(rng.uniform(12, 30) * px_per_mm)
    cover = tuple(
        int(v) for v in rng.choice([(112, 22, 38), (20, 36, 84), (22, 60, 40), (25, 25, 28)])
    )
    booklet = Image.new("RGB", (pw + 2 * edge, ph + edge + facing), cover)
    paper = tuple(int(v) for v in rng.integers(225, 245, size=3))
    booklet.paste(Image.new("RGB", (pw, facing), paper), (edge, 0))
    booklet.paste(page, (edge, facing))
    return booklet, (edge, facing)


@dataclass(frozen=True, slots=True)
class Pipeline:
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def __call__(self, capture: Capture, rng: np.random.Generator) -> Capture:
        for step in self.steps:
            capture = step(capture, rng)
        return capture


def condition_pipeline(condition: Condition) -> Pipeline:
    if condition == "clean":
        return Pipeline((Noise(sigma=(1.0, 2.5)),))
    if condition == "degraded":
        return Pipeline(
            (
                Rotate(max_degrees=5.0),
                UnevenLight(strength=(0.15, 0.35)),
                Blur(sigma=(0.5, 1.3)),
                Noise(sigma=(3.0, 8.0)),
                Jpeg(quality=(40, 70)),
            )
        )
    if condition == "camera":
        return Pipeline(
            (
                CameraView(),
                UnevenLight(strength=(0.1, 0.3)),
                Glare(amplitude=(40.0, 110.0)),
                Blur(sigma=(0.4, 1.0)),
                Noise(sigma=(2.0, 5.0)),
                Jpeg(quality=(55, 85)),
            )
        )
    raise ValueError(f"unknown condition {condition!r}; expected one of {CONDITIONS}")


def degrade(capture: Capture, condition: Condition, rng: np.random.Generator) -> Capture:
    return condition_pipeline(condition)(capture, rng)
