"""Planar parallax: is the face a 3D head or a picture of one?

Everything on a flat picture (a print, a phone screen) moves between two frames by one
homography, the perspective map of a plane, however the picture is held or tilted. A head
turning shows parallax: the nose, the cheeks and the face's sides lie at different depths, so
no homography carries the frontal face onto the turned one.

:func:`parallax_score` compares the traveller's frontal frame with a turned frame. The face
region of the frontal frame (``SPAN`` eye distances square, placed by the 5-point landmarks) is
resampled to ``CROP`` pixels; the turned frame is sampled through a map from that crop, first
the affine map that fits the landmarks, then refined twice: dense optical flow (iterative
Lucas-Kanade, ``skimage.registration.optical_flow_ilk``) gives where each textured point of the
frontal face went, a homography is fitted to those correspondences by least squares (refitted
on the best-fitting 80%: flow errors at occlusions are not the plane's fault) and composed into
the map. What the last homography leaves unexplained is the score: the ``PERCENTILE``-th
percentile of the residuals, in crop widths, over the central ``INNER`` eye distances (inside
the face, whatever holds it). A picture leaves flow noise only; a head leaves its parallax.

CPU: about 18 ms per pair (64 px crops, two flows); the challenge scores a few turned frames.
Nothing is kept: the crops live only during the call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from skimage.registration import optical_flow_ilk

from . import RGBImage

Floats = npt.NDArray[np.float64]

CROP = 64
"""Side of the resampled face crop (pixels)."""
SPAN = 2.6
"""Side of the face region, in eye distances (IOD): the whole face with a little margin."""
INNER = 1.9
"""Side of the central region whose points are scored (IOD): inside the face, so no background
or picture border is scored."""
PERCENTILE = 80.0
RADIUS = 4
ROUNDS = 2
"""Flow-and-homography refinements of the map to the turned frame."""
MIN_TEXTURE = 1e-3
"""Smallest local gradient energy (of the z-scored crop) worth a flow vector."""
GRID = 2


def _grey(image: RGBImage, mapping: Floats, step: float) -> Floats:
    """``CROP`` x ``CROP`` grey samples of ``image`` at ``mapping`` (crop (x, y, 1) -> image),
    prefiltered for the sampling step, z-scored."""
    cc, rr = np.meshgrid(np.arange(CROP, dtype=np.float64), np.arange(CROP, dtype=np.float64))
    den = mapping[2, 0] * cc + mapping[2, 1] * rr + mapping[2, 2]
    xs = (mapping[0, 0] * cc + mapping[0, 1] * rr + mapping[0, 2]) / den
    ys = (mapping[1, 0] * cc + mapping[1, 1] * rr + mapping[1, 2]) / den
    h, w = image.shape[:2]
    x0 = int(np.clip(np.floor(xs.min()) - 3, 0, w - 1))
    x1 = int(np.clip(np.ceil(xs.max()) + 4, x0 + 1, w))
    y0 = int(np.clip(np.floor(ys.min()) - 3, 0, h - 1))
    y1 = int(np.clip(np.ceil(ys.max()) + 4, y0 + 1, h))
    region = image[y0:y1, x0:x1].astype(np.float32) @ np.array(
        [0.299, 0.587, 0.114], dtype=np.float32
    )
    # Downsampling without a prefilter would alias the print's halftone and the screen's moire.
    if step > 1.2:
        region = ndimage.gaussian_filter(region, sigma=0.5 * step)
    grey = ndimage.map_coordinates(region, [ys - y0, xs - x0], order=1, mode="nearest")
    out: Floats = grey.astype(np.float64)
    scored: Floats = (out - out.mean()) / max(float(out.std()), 1.0)
    return scored


def _affine(src: Floats, dst: Floats) -> Floats:
    """The 3 x 3 least-squares affine map taking points ``src`` to ``dst``."""
    design = np.hstack([src, np.ones((len(src), 1))])
    coef, *_ = np.linalg.lstsq(design, dst, rcond=None)
    out = np.eye(3)
    out[:2, :] = coef.T
    return out


def _eye_mid_iod(points: Floats) -> tuple[Floats, float]:
    right = points[0:2].mean(axis=0)
    left = points[2:4].mean(axis=0)
    return (right + left) / 2, float(np.linalg.norm(right - left))


def _flow_points(
    ref: Floats, mov: Floats, rr: npt.NDArray[np.intp], cc: npt.NDArray[np.intp]
) -> Floats:
    v, u = optical_flow_ilk(ref, mov, radius=RADIUS, num_warp=3, gaussian=True)  # type: ignore[no-untyped-call]
    return np.stack([cc + u[rr, cc], rr + v[rr, cc]], axis=1)


def parallax_score(
    frontal: RGBImage, frontal_points: Floats, turned: RGBImage, turned_points: Floats
) -> float:
    """Residual of the best homography from the frontal to the turned face, in crop widths
    (``SPAN`` IOD of the frontal face); see the module docstring. NaN if the face has too
    little texture to say (the caller fails closed)."""
    mid, iod = _eye_mid_iod(frontal_points)
    if iod < 1.0:
        return float("nan")
    step = SPAN * iod / CROP
    # Crop pixel -> frontal image: the face region, a little below the eye line.
    centre = mid + np.array([0.0, 0.45 * iod])
    to_frontal = np.array(
        [
            [step, 0, centre[0] - step * (CROP - 1) / 2],
            [0, step, centre[1] - step * (CROP - 1) / 2],
            [0, 0, 1],
        ]
    )
    # Frontal image -> turned image, first guessed from the landmarks (an affine map), then
    # refined by the homography that the flow finds: what a plane's flow leaves is noise.
    guess = _affine(frontal_points, turned_points)
    ref = _grey(frontal, to_frontal, step)
    gy, gx = np.gradient(ref)
    texture = ndimage.uniform_filter(gx * gx + gy * gy, size=5)
    rr, cc = np.mgrid[0:CROP:GRID, 0:CROP:GRID]
    half = INNER / SPAN * CROP / 2
    middle = (CROP - 1) / 2
    inside = (np.abs(rr - middle) <= half) & (np.abs(cc - middle) <= half)
    rr, cc = rr[inside], cc[inside]
    tex = texture[rr, cc]
    # Flat patches give no flow, only noise.
    keep = (tex >= np.percentile(tex, 30)) & (tex > MIN_TEXTURE)
    rr, cc = rr[keep], cc[keep]
    if rr.size < 30:
        return float("nan")
    src = np.stack([cc, rr], axis=1).astype(np.float64)
    mapping = guess @ to_frontal
    residual: Floats | None = None
    for _ in range(ROUNDS):
        mov = _grey(turned, mapping, step)
        dst = _flow_points(ref, mov, rr, cc)
        model = _fit(src, dst)
        if model is None:
            return float("nan")
        residual = np.linalg.norm(_apply(model, src) - dst, axis=1)
        mapping = mapping @ model
    assert residual is not None
    return float(np.percentile(residual, PERCENTILE) / CROP)


def _apply(h: Floats, pts: Floats) -> Floats:
    xyw = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    out: Floats = xyw[:, :2] / xyw[:, 2:3]
    return out


def _homography(src: Floats, dst: Floats) -> Floats | None:
    """The least-squares homography taking ``src`` to ``dst`` (normalised direct linear
    transform), or None if the points are degenerate."""

    def normaliser(pts: Floats) -> Floats:
        mean = pts.mean(axis=0)
        scale = np.sqrt(2.0) / max(float(np.linalg.norm(pts - mean, axis=1).mean()), 1e-9)
        return np.array([[scale, 0, -scale * mean[0]], [0, scale, -scale * mean[1]], [0, 0, 1]])

    ts, td = normaliser(src), normaliser(dst)
    a, b = _apply(ts, src), _apply(td, dst)
    n = len(a)
    rows = np.zeros((2 * n, 9))
    rows[:n, 0:2], rows[:n, 2] = a, 1
    rows[:n, 6:8], rows[:n, 8] = -b[:, :1] * a, -b[:, 0]
    rows[n:, 3:5], rows[n:, 5] = a, 1
    rows[n:, 6:8], rows[n:, 8] = -b[:, 1:] * a, -b[:, 1]
    _, sv, vt = np.linalg.svd(rows, full_matrices=False)
    if sv[-2] < 1e-9 * sv[0]:
        return None
    h: Floats = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    if abs(h[2, 2]) < 1e-12:
        return None
    out: Floats = h / h[2, 2]
    return out


def _fit(src: Floats, dst: Floats) -> Floats | None:
    """The least-squares homography, refitted on the best-fitting 80% of the points."""
    model = _homography(src, dst)
    if model is None:
        return None
    residual = np.linalg.norm(_apply(model, src) - dst, axis=1)
    best = residual <= np.percentile(residual, 80)
    return _homography(src[best], dst[best])
