"""Planar parallax: is the face a 3D head or a picture of one, and which way did it turn?

Everything on a flat picture (a print, a phone screen) moves between two frames by one
homography, the perspective map of a plane, however the picture is held or tilted. A head
turning shows parallax: the nose, the cheeks and the face's sides lie at different depths, so
no homography carries the frontal face onto the turned one.

:func:`parallax` compares the traveller's frontal frame with a later frame. The face region of
the frontal frame (``SPAN`` eye distances square, placed by the 5-point landmarks) is resampled
to ``CROP`` pixels; the later frame is sampled through a map from that crop, first the affine
map that fits the landmarks, then refined twice: dense optical flow (iterative Lucas-Kanade,
:func:`_flow`) gives where each textured point of the frontal face went, a homography is fitted
to those correspondences by least squares (refitted on the best-fitting 80%: flow errors at
occlusions are not the plane's fault) and composed into the map. What the last homography
leaves unexplained, the residual, is the parallax:

* ``depth``: the ``PERCENTILE``-th percentile of the residuals' length, in crop widths, over the
  central ``INNER`` eye distances (inside the face, whatever holds it).
* ``turn``: where the nose went. A head turning by an angle ``a`` moves each point sideways by
  its depth times ``sin(a)`` on top of what a plane explains, so the nose, nearer the camera,
  moves further than the face around it: to the image's right when the person turns to their
  left. ``turn`` is the nose ridge's horizontal residual minus that of the face beside it
  (the cheeks) and, separately, minus that of the face above and below it (between the eyes,
  the mouth), keeping the smaller of the two when they agree in sign (else 0): the nose stands
  out of the face both ways. Positive: the person turned to their left (the sign of the
  landmark yaw in :mod:`kiosk.biometrics.capture`); crop widths, about 0.0018 a degree on the
  camera mock's heads.

A picture leaves flow noise only (measured on the mock's prints, still and tilted: ``|turn|``
at most 0.0013 in 1,800 frames, against 0.020 and more for live heads turned 15 degrees or
more, see ``kiosk.biometrics.liveness.TURN_THRESHOLD``). Needing
the nose to stand out both ways also refuses a print bent round one axis (a cylinder: the
paper cannot bulge both ways at once without creasing), though the mock has no such attack to
measure it on.

CPU: about 8 ms per later frame (64 px crops, two flows); the frontal frame is prepared once
(:func:`reference`). Nothing is kept beyond the transaction: the reference crop lives in the
challenge, the later crops only during the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage

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
"""Half-width of the optical flow's integration window (crop pixels)."""
WARPS = 3
"""Warps per pyramid level of the optical flow."""
MIN_LEVEL = 32
"""The optical flow's coarsest pyramid level is the first at or below this size (pixels)."""
ROUNDS = 2
"""Flow-and-homography refinements of the map to the later frame (one is not enough: a tilted
print's flow has not converged, its residual reaches 0.03)."""
MIN_TEXTURE = 1e-3
"""Smallest local gradient energy (of the z-scored crop) worth a flow vector."""
GRID = 2
NOSE_RADIUS = 0.22
"""Points within this many IOD of the nose ridge (from a third of the way down from the eye
line to the nose's base) are the nose."""
SIDE = 0.6
"""Points at least this many IOD to either side of the ridge are the cheeks."""
ABOVE_BELOW = (0.25, 0.3)
"""Points within 0.25 IOD of the ridge's line, and at least 0.3 IOD beyond its ends, are the
face above (between the eyes) and below (the mouth) the nose."""


@dataclass(frozen=True, slots=True)
class Parallax:
    """How a later frame's face moved from the frontal one, beyond what a plane can do."""

    depth: float
    """Residual of the best homography (crop widths); NaN: too little texture to say."""
    turn: float
    """Signed nose contrast (crop widths): positive, the person turned to their left; NaN:
    too little texture to say."""
    mapping: Floats | None = None
    """Crop pixel -> later image: the homography that was fitted (a seed for the next frame)."""
    points: Floats | None = None
    """The later frame's landmarks."""

    def along(self, direction: float) -> float:
        """``turn`` towards ``direction`` (+1: the person's left, -1: right); NaN as 0."""
        return 0.0 if math.isnan(self.turn) else self.turn * direction


UNDECIDED = Parallax(float("nan"), float("nan"))


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


def _reduce(image: Floats) -> Floats:
    """Half the size: Gaussian prefilter, then sampled at the centres of 2 x 2 blocks."""
    smooth = ndimage.gaussian_filter(image, 2 / 3, mode="reflect")
    h, w = image.shape
    rows = np.arange(h // 2, dtype=np.float64) * 2 + 0.5
    cols = np.arange(w // 2, dtype=np.float64) * 2 + 0.5
    grid = np.meshgrid(rows, cols, indexing="ij")
    out: Floats = ndimage.map_coordinates(smooth, grid, order=1, mode="nearest")
    return out


def _flow(ref_levels: tuple[Floats, ...], mov: Floats) -> tuple[Floats, Floats]:
    """Dense optical flow (rows, columns) from the reference crop (its pyramid, finest first)
    to ``mov``: iterative Lucas-Kanade with a Gaussian window, coarse to fine. The algorithm of
    ``skimage.registration.optical_flow_ilk`` (radius ``RADIUS``, ``WARPS`` warps, its
    pyramid; the flows agree to 0.01 px), with each pixel's 2 x 2 system solved in closed
    form: about 3 times faster."""
    movs = [mov]
    for _ in ref_levels[1:]:
        movs.append(_reduce(movs[-1]))
    sigma = (2 * RADIUS + 1) / 4
    du: Floats | None = None
    dv: Floats = np.zeros(0)
    for r0, m0 in zip(reversed(ref_levels), reversed(movs), strict=True):
        h, w = r0.shape
        if du is None:
            du, dv = np.zeros((h, w)), np.zeros((h, w))
        else:  # the coarser level's flow, doubled, as the start
            du = 2 * np.repeat(np.repeat(du, 2, axis=0), 2, axis=1)[:h, :w]
            dv = 2 * np.repeat(np.repeat(dv, 2, axis=0), 2, axis=1)[:h, :w]
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
        for _ in range(WARPS):
            warped = ndimage.map_coordinates(m0, [rows + dv, cols + du], order=1, mode="nearest")
            gy, gx = np.gradient(warped)
            err = gy * dv + gx * du + r0 - warped
            sums = ndimage.gaussian_filter(
                np.stack([gx * gx, gx * gy, gy * gy, gx * err, gy * err]),
                (0, sigma, sigma),
                mode="mirror",
            )
            sxx, sxy, syy, sxe, sye = sums
            det = sxx * syy - sxy * sxy
            solvable = np.abs(det) >= 1e-14  # no texture: no flow
            det = np.where(solvable, det, 1.0)
            du = np.where(solvable, (syy * sxe - sxy * sye) / det, 0.0)
            dv = np.where(solvable, (sxx * sye - sxy * sxe) / det, 0.0)
    assert du is not None
    return dv, du


def _similarity(src: Floats, dst: Floats) -> Floats:
    """The 3 x 3 least-squares similarity (scale, rotation, shift) taking ``src`` to ``dst``."""
    s_mean, d_mean = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - s_mean, dst - d_mean
    den = max(float((a * a).sum()), 1e-9)
    c = float((a * b).sum()) / den
    s = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()) / den
    out = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    out[:2, 2] = d_mean - out[:2, :2] @ s_mean
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Reference:
    """The frontal face, prepared once for every later frame compared with it: its crop (a
    small z-scored grey image; this transaction only), the textured points that are scored,
    and the nose ridge, all in crop pixels."""

    points: Floats = field(repr=False)
    to_frontal: Floats = field(repr=False)
    """Crop pixel -> frontal image."""
    step: float
    levels: tuple[Floats, ...] = field(repr=False)
    """The crop's pyramid for the optical flow, finest first."""
    src: Floats = field(repr=False)
    rows: npt.NDArray[np.intp] = field(repr=False)
    cols: npt.NDArray[np.intp] = field(repr=False)
    eye_mid: Floats = field(repr=False)
    nose: Floats = field(repr=False)


def reference(frontal: RGBImage, points: Floats) -> Reference | None:
    """Prepare ``frontal`` (with its 5-point landmarks) for :func:`parallax`; None if its
    face is too small or has too little texture to measure (the caller fails closed)."""
    mid, iod = _eye_mid_iod(points)
    if iod < 1.0:
        return None
    step = SPAN * iod / CROP
    # Crop pixel -> frontal image: the face region, a little below the eye line.
    origin = mid + np.array([0.0, 0.45 * iod]) - step * (CROP - 1) / 2
    to_frontal = np.array([[step, 0, origin[0]], [0, step, origin[1]], [0, 0, 1]])
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
        return None
    levels = [ref]
    while min(levels[-1].shape) > MIN_LEVEL:
        levels.append(_reduce(levels[-1]))
    return Reference(
        points=points, to_frontal=to_frontal, step=step, levels=tuple(levels),
        src=np.stack([cc, rr], axis=1).astype(np.float64), rows=rr, cols=cc,
        eye_mid=(mid - origin) / step, nose=(points[4] - origin) / step,
    )  # fmt: skip


def parallax(
    ref: Reference,
    later: RGBImage,
    later_points: Floats,
    *,
    previous: Parallax | None = None,
) -> Parallax:
    """The parallax of the face in ``later`` (with its 5-point landmarks) relative to the
    frontal one; see the module docstring. :data:`UNDECIDED` (NaN) if the flow gives no
    homography: the caller takes that as no turn (fail closed).

    ``previous``, the result for an earlier frame against the same reference, seeds the
    map: its homography, moved as the eyes moved since. The affine map of all five landmarks
    is the seed otherwise; on a turned face the 5-point model sometimes misplaces the nose by
    a fifth of the eye distance for a few frames, and a seed that far off leaves the flow
    unconverged (a residual that is no parallax)."""
    # Frontal image -> later image, first guessed from the landmarks (an affine map) or the
    # previous frame's map, then refined by the homography that the flow finds: what a
    # plane's flow leaves is noise.
    if previous is not None and previous.mapping is not None and previous.points is not None:
        mapping = _similarity(previous.points[:4], later_points[:4]) @ previous.mapping
    else:
        mapping = _affine(ref.points, later_points) @ ref.to_frontal
    src = ref.src
    residual: Floats | None = None
    for _ in range(ROUNDS):
        mov = _grey(later, mapping, ref.step)
        v, u = _flow(ref.levels, mov)
        dst = np.stack([ref.cols + u[ref.rows, ref.cols], ref.rows + v[ref.rows, ref.cols]], 1)
        model = _fit(src, dst)
        if model is None:
            return UNDECIDED
        residual = dst - _apply(model, src)
        mapping = mapping @ model
    assert residual is not None
    depth = float(np.percentile(np.linalg.norm(residual, axis=1), PERCENTILE) / CROP)
    turn = _nose_turn(src, residual[:, 0] / CROP, ref.eye_mid, ref.nose, CROP / SPAN)
    return Parallax(depth, turn, mapping, later_points)


def _nose_turn(src: Floats, dx: Floats, eye_mid: Floats, nose: Floats, iod: float) -> float:
    """The nose ridge's horizontal residual against the face beside it and above and below
    it (crop widths, signed; see the module docstring)."""
    top = eye_mid + 0.35 * (nose - eye_mid)
    ridge = nose - top
    length = float(np.linalg.norm(ridge))
    if length < 1.0:
        return float("nan")
    down = ridge / length
    offset = src - top
    along = offset @ down
    across = np.abs(offset @ np.array([-down[1], down[0]]))
    beyond = np.maximum(-along, along - length)  # how far past the ridge's ends (< 0: beside)
    near = np.hypot(across, np.maximum(beyond, 0.0)) <= NOSE_RADIUS * iod
    beside = across >= SIDE * iod
    width, gap = ABOVE_BELOW
    above_below = (across <= width * iod) & (beyond >= gap * iod)
    if near.sum() < 3 or beside.sum() < 5 or above_below.sum() < 3:
        return float("nan")
    nose_dx = float(np.median(dx[near]))
    sideways = nose_dx - float(np.median(dx[beside]))
    vertical = nose_dx - float(np.median(dx[above_below]))
    if sideways * vertical <= 0:
        return 0.0
    return math.copysign(min(abs(sideways), abs(vertical)), sideways)


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
