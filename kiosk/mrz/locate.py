"""Find the MRZ in a grey image: its code lines, their cell count, and a homography.

No OCR and no knowledge of the page: the MRZ is the only place on a document where 30, 36 or 44
glyphs of one size stand in a straight row at one fixed pitch (2.54 mm) with no gaps, in two or
three parallel rows whose first cells line up.

1. Binarise against a local background (dark ink clearly below its surroundings).
2. Connected components of the ink, kept if glyph-sized.
3. The dominant text direction from nearest-neighbour pairs; each glyph linked to its mutual
   nearest right-hand neighbour in that direction; links form chains.
4. Chains merged when collinear; a chain is a code-line candidate when its length in pitches
   is close to 30, 36 or 44 with regular spacing.
5. Two (TD3/TD2) or three (TD1) candidates that are parallel, left-aligned and one line spacing
   apart make the MRZ. A homography from MRZ cell coordinates (x: cell centres at 0.5, 1.5, ...;
   y: line index) to image pixels is fitted to every glyph centre, so perspective is rectified.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped, unused-ignore]
from scipy.spatial import cKDTree  # type: ignore[import-untyped, unused-ignore]

FloatArray = npt.NDArray[np.float64]
GreyImage = npt.NDArray[np.float32]

LINE_LENGTHS = (30, 36, 44)
LINES_FOR_LENGTH = {30: 3, 36: 2, 44: 2}
LINE_SPACING_PITCHES = {30: 4.23 / 2.54, 36: 6.35 / 2.54, 44: 6.35 / 2.54}
"""Distance between code line centres, in character pitches (Doc 9303 parts 4-6)."""
MAX_MISSING_AT_ENDS = 2
"""A code line may be found short by this many cells if another line of the MRZ is complete."""
WORK_LONG_SIDE = 1000
"""Images are reduced (by an integer factor) to about this long side to locate the MRZ."""


class MRZNotFoundError(ValueError):
    """No MRZ-shaped arrangement of glyphs in the image."""


@dataclass(frozen=True, slots=True)
class MRZLocation:
    chars_per_line: int
    lines: int
    homography: FloatArray
    """3 x 3, MRZ coordinates in pitches -> full-image pixel (x, y). Cell ``k`` of line ``i``
    is centred at (k + 0.5, i * LINE_SPACING_PITCHES[chars_per_line])."""
    pitch_px: float
    """Median character pitch in image pixels."""
    glyphs: int
    """Glyph centres the homography was fitted to."""

    def to_image(self, points: FloatArray) -> FloatArray:
        """N x 2 MRZ coordinates -> N x 2 image coordinates."""
        return apply_homography(self.homography, points)


def apply_homography(matrix: FloatArray, points: FloatArray) -> FloatArray:
    pts = np.column_stack([points, np.ones(len(points))]) @ matrix.T
    return np.asarray(pts[:, :2] / pts[:, 2:3], dtype=np.float64)


def fit_homography(src: FloatArray, dst: FloatArray) -> FloatArray:
    """Least-squares (normalised DLT) homography taking ``src`` points to ``dst`` points."""

    def normaliser(p: FloatArray) -> FloatArray:
        centre = p.mean(axis=0)
        scale = math.sqrt(2) / max(float(np.sqrt(((p - centre) ** 2).sum(axis=1)).mean()), 1e-9)
        return np.array(
            [[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1.0]]
        )

    ts, td = normaliser(src), normaliser(dst)
    s = apply_homography(ts, src)
    d = apply_homography(td, dst)
    rows = []
    for (x, y), (u, v) in zip(s, d, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows, dtype=np.float64))
    h = vt[-1].reshape(3, 3)
    matrix = np.linalg.inv(td) @ h @ ts
    return np.asarray(matrix / matrix[2, 2], dtype=np.float64)


@dataclass(slots=True)
class _Blobs:
    cx: FloatArray
    cy: FloatArray
    h: FloatArray
    w: FloatArray


def _ink(grey: GreyImage) -> npt.NDArray[np.bool_]:
    """Pixels clearly darker than their neighbourhood."""
    small = grey
    window = max(15, round(min(grey.shape) / 25))
    background = ndimage.uniform_filter(small, size=window, mode="nearest")
    darkness = background - small
    # relative to the local brightness, so text under glare or in shade is kept
    return np.asarray(darkness > np.maximum(18.0, 0.22 * background), dtype=np.bool_)


def _blobs(ink: npt.NDArray[np.bool_]) -> _Blobs:
    labels, count = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return _Blobs(*(np.zeros(0) for _ in range(4)))
    slices = ndimage.find_objects(labels)
    heights = np.array([s[0].stop - s[0].start for s in slices], dtype=np.float64)
    widths = np.array([s[1].stop - s[1].start for s in slices], dtype=np.float64)
    flat = labels.ravel()
    n = np.bincount(flat, minlength=count + 1)[1:].astype(np.float64)
    # box centres, not ink centroids: every OCR-B capital and digit is centred in its cell and
    # on the line, while the ink of an L or a 7 leans low or high
    cx = np.array([(s[1].start + s[1].stop - 1) / 2 for s in slices], dtype=np.float64)
    cy = np.array([(s[0].start + s[0].stop - 1) / 2 for s in slices], dtype=np.float64)
    size = np.maximum(heights, widths)
    fill = n / np.maximum(heights * widths, 1)
    keep = (
        (size >= 7)
        & (size <= 90)
        & (widths <= 1.6 * heights + 2)
        & (heights <= 2.5 * widths + 4)
        & (fill >= 0.08)
        & (fill <= 0.9)
    )
    return _Blobs(
        cx=cx[keep],
        cy=cy[keep],
        h=heights[keep],
        w=widths[keep],
    )


def _dominant_angle(blobs: _Blobs, tree: cKDTree) -> float:
    """Text direction (radians) from each glyph's nearest neighbours of similar size."""
    pts = np.column_stack([blobs.cx, blobs.cy])
    k = min(4, len(pts))
    dist, idx = tree.query(pts, k=k)
    angles = []
    weights = []
    for col in range(1, k):
        j = idx[:, col]
        ok = (dist[:, col] < 2.2 * blobs.h) & (dist[:, col] > 0.4 * blobs.h)
        ok &= np.abs(np.log(blobs.h / blobs.h[j])) < 0.5
        d = pts[j[ok]] - pts[ok]
        angles.append(np.arctan2(d[:, 1], d[:, 0]) % math.pi)
        weights.append(np.ones(int(ok.sum())))
    if not angles or sum(len(a) for a in angles) == 0:
        return 0.0
    a = np.concatenate(angles)
    # fold to (-pi/2, pi/2] around horizontal; documents are at most ~35 degrees off level
    a = np.where(a > math.pi / 2, a - math.pi, a)
    a = a[np.abs(a) < math.radians(40)]
    if len(a) == 0:
        return 0.0
    hist, edges = np.histogram(a, bins=80, range=(-math.radians(40), math.radians(40)))
    smooth = np.convolve(hist, np.ones(3), mode="same")
    peak = int(np.argmax(smooth))
    centre = (edges[peak] + edges[peak + 1]) / 2
    near = a[np.abs(a - centre) < math.radians(3)]
    return float(np.median(near)) if len(near) else float(centre)


@dataclass(slots=True)
class _Chain:
    members: list[int]
    u: FloatArray
    v: FloatArray
    pitch: float
    height: float

    @property
    def start(self) -> float:
        return float(self.u[0])

    @property
    def end(self) -> float:
        return float(self.u[-1])


def _chains(blobs: _Blobs, angle: float, tree: cKDTree) -> list[_Chain]:
    c, s = math.cos(angle), math.sin(angle)
    u = blobs.cx * c + blobs.cy * s
    v = -blobs.cx * s + blobs.cy * c
    pts = np.column_stack([blobs.cx, blobs.cy])
    n = len(u)
    right = np.full(n, -1)
    best = np.full(n, np.inf)
    pairs = tree.query_pairs(r=float(np.percentile(blobs.h, 99)) * 2.4 + 4, output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        swap = u[j] < u[i]
        a = np.where(swap, j, i)
        b = np.where(swap, i, j)
        du = u[b] - u[a]
        dv = np.abs(v[b] - v[a])
        scale = np.maximum(blobs.h[a], blobs.h[b])
        ok = (du > 0.45 * scale) & (du < 2.0 * scale) & (dv < 0.3 * scale)
        ok &= np.abs(np.log(blobs.h[a] / blobs.h[b])) < 0.8
        cost = du + 3 * dv
        for ai, bi, ci in zip(a[ok], b[ok], cost[ok], strict=True):
            if ci < best[ai]:
                best[ai] = ci
                right[ai] = bi
    left = np.full(n, -1)
    left_best = np.full(n, np.inf)
    for ai in range(n):
        bi = right[ai]
        if bi >= 0 and best[ai] < left_best[bi]:
            left_best[bi] = best[ai]
            left[bi] = ai
    chains = []
    for start in range(n):
        if left[start] >= 0 and right[left[start]] == start:
            continue  # not the head of a chain
        members = [start]
        node = start
        while right[node] >= 0 and left[right[node]] == node and len(members) < 200:
            node = int(right[node])
            members.append(node)
        if len(members) >= 5:
            m = np.array(members)
            du = np.diff(u[m])
            chains.append(
                _Chain(
                    members=members,
                    u=u[m],
                    v=v[m],
                    pitch=float(np.median(du)),
                    height=float(np.median(blobs.h[m])),
                )
            )
    del pts
    return chains


def _merge(chains: list[_Chain]) -> list[_Chain]:
    """Join chains that continue one another on the same line (a glyph lost to glare or a
    broken stroke splits a code line)."""
    chains = sorted(chains, key=lambda ch: ch.start)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(chains):
            for j, b in enumerate(chains):
                if i == j or b.start <= a.end:
                    continue
                pitch = max(a.pitch, b.pitch)
                gap = b.start - a.end
                if gap > 6.5 * pitch or abs(math.log(a.pitch / b.pitch)) > 0.25:
                    continue
                slope_a = _slope(a)
                predicted = a.v[-1] + slope_a * gap
                if abs(predicted - b.v[0]) > 0.35 * max(a.height, b.height):
                    continue
                steps = gap / ((a.pitch + b.pitch) / 2)
                if abs(steps - round(steps)) > 0.3:
                    continue
                chains[i] = _Chain(
                    members=a.members + b.members,
                    u=np.concatenate([a.u, b.u]),
                    v=np.concatenate([a.v, b.v]),
                    pitch=float(np.median(np.diff(np.concatenate([a.u, b.u])))),
                    height=(a.height + b.height) / 2,
                )
                del chains[j]
                merged = True
                break
            if merged:
                break
    return chains


def _slope(chain: _Chain) -> float:
    if len(chain.u) < 3:
        return 0.0
    return float(np.polyfit(chain.u, chain.v, 1)[0])


def _cells(chain: _Chain) -> FloatArray:
    """Cell index of each glyph along the chain, from the local pitch."""
    du = np.diff(chain.u)
    local = ndimage.median_filter(du, size=7, mode="nearest")
    steps = np.maximum(1, np.round(du / local))
    return np.concatenate([[0.0], np.cumsum(steps)])


def locate(grey: GreyImage) -> MRZLocation:
    """The MRZ in ``grey`` (H x W, 0-255); raises :class:`MRZNotFoundError`."""
    factor = max(1, round(max(grey.shape) / WORK_LONG_SIDE))
    work = grey
    if factor > 1:
        h, w = grey.shape[0] // factor * factor, grey.shape[1] // factor * factor
        work = grey[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    blobs = _blobs(_ink(work))
    if len(blobs.cx) < 30:
        raise MRZNotFoundError("too few glyph-like marks in the image")
    tree = cKDTree(np.column_stack([blobs.cx, blobs.cy]))
    angle = _dominant_angle(blobs, tree)
    chains = _merge(_chains(blobs, angle, tree))
    candidates: list[tuple[_Chain, FloatArray, int]] = []
    for chain in chains:
        cells = _cells(chain)
        length = int(cells[-1]) + 1
        if len(chain.members) < 0.6 * length:
            continue
        for n in LINE_LENGTHS:
            # a glyph lost at either end (glare, a broken filler) still leaves a usable line
            if n - MAX_MISSING_AT_ENDS <= length <= n:
                candidates.append((chain, cells, n))
    location = _group(candidates, blobs, angle, factor)
    if location is None:
        raise MRZNotFoundError("no two or three aligned rows of 30, 36 or 44 characters")
    return location


def _align(
    group: list[tuple[_Chain, FloatArray, int]], n: int, pitch: float
) -> list[tuple[_Chain, FloatArray, int]] | None:
    """Number the cells of short lines from a complete line of the group (lines are
    left-aligned), or None if the rows do not line up."""
    complete = [g for g in group if int(g[1][-1]) + 1 == n]
    if not complete:
        return None
    ref = complete[0][0]
    out = []
    for chain, cells, length in group:
        offset_f = (chain.start - ref.start) / pitch
        if int(cells[-1]) + 1 == n:
            # complete: left-aligned up to the shear a tilted camera gives
            if abs(offset_f) > 2.0:
                return None
            out.append((chain, cells, length))
            continue
        # short: which end lost a glyph (a wrong guess only makes the check digits fail)
        offset = round(offset_f)
        if abs(offset_f - offset) > 0.3 or offset < 0 or offset + int(cells[-1]) + 1 > n:
            return None
        out.append((chain, cells + offset, length))
    return out


def _group(
    candidates: list[tuple[_Chain, FloatArray, int]],
    blobs: _Blobs,
    angle: float,
    factor: int,
) -> MRZLocation | None:
    best: tuple[float, MRZLocation] | None = None
    for n in LINE_LENGTHS:
        rows = sorted((c for c in candidates if c[2] == n), key=lambda c: float(np.mean(c[0].v)))
        lines = LINES_FOR_LENGTH[n]
        spacing = LINE_SPACING_PITCHES[n]
        for first in range(len(rows) - lines + 1):
            group = rows[first : first + lines]
            pitch = float(np.mean([g[0].pitch for g in group]))
            ok = True
            for upper, lower in itertools.pairwise(group):
                gap = float(np.mean(lower[0].v) - np.mean(upper[0].v)) / pitch
                if abs(gap - spacing) > 0.5 * spacing:
                    ok = False
            aligned = _align(group, n, pitch)
            if not ok or aligned is None:
                continue
            group = aligned
            src, dst = [], []
            for line, (chain, cells, _) in enumerate(group):
                for member, cell in zip(chain.members, cells, strict=True):
                    src.append((cell + 0.5, line * spacing))
                    dst.append((blobs.cx[member] * factor, blobs.cy[member] * factor))
            src_a = np.asarray(src, dtype=np.float64)
            dst_a = np.asarray(dst, dtype=np.float64)
            # pixel centres: a reduced pixel covers factor full pixels
            dst_a += (factor - 1) / 2
            matrix = fit_homography(src_a, dst_a)
            residual = np.sqrt(((apply_homography(matrix, src_a) - dst_a) ** 2).sum(axis=1))
            keep = residual < max(2.0, 0.25 * pitch * factor)
            if keep.sum() >= 8 and keep.sum() < len(keep):
                matrix = fit_homography(src_a[keep], dst_a[keep])
            score = float(len(src))
            location = MRZLocation(
                chars_per_line=n,
                lines=lines,
                homography=matrix,
                pitch_px=pitch * factor,
                glyphs=int(keep.sum()),
            )
            if best is None or score > best[0]:
                best = (score, location)
    del angle
    return None if best is None else best[1]
