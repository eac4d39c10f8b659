"""Cut the located MRZ into its fixed-pitch character cells, rectified and normalised.

The MRZ is printed at a fixed pitch, so once the homography from MRZ coordinates (in pitches)
to the image is known every cell is at a known place: each cell is resampled on a
``CELL_W`` x ``CELL_H`` grid spanning ``CELL_SPAN_X`` x ``CELL_SPAN_Y`` pitches around its centre
(perspective rectified by the homography), then its grey levels are normalised to ink darkness
in [0, 1] (0 paper, 1 ink). The same function cuts the training cells (see :mod:`.train`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage  # type: ignore[import-untyped, unused-ignore]

from kiosk.mrz.locate import LINE_SPACING_PITCHES, FloatArray, GreyImage, apply_homography

CELL_W = 16
CELL_H = 22
CELL_SPAN_X = 1.15
"""Cell window width in pitches: a little more than one cell, for localisation slack."""
CELL_SPAN_Y = CELL_SPAN_X * CELL_H / CELL_W
FEATURES = CELL_W * CELL_H

CellArray = npt.NDArray[np.float32]


def cell_grid(
    chars_per_line: int, lines: int, shift: tuple[float, float] = (0.0, 0.0)
) -> FloatArray:
    """MRZ coordinates of every sample point: (lines * chars, CELL_H, CELL_W, 2)."""
    spacing = LINE_SPACING_PITCHES[chars_per_line]
    gx = (np.arange(CELL_W) - (CELL_W - 1) / 2) * (CELL_SPAN_X / CELL_W) + shift[0]
    gy = (np.arange(CELL_H) - (CELL_H - 1) / 2) * (CELL_SPAN_Y / CELL_H) + shift[1]
    cx = np.arange(chars_per_line) + 0.5
    cy = np.arange(lines) * spacing
    x = cx[None, :, None, None] + gx[None, None, None, :] + 0 * gy[None, None, :, None]
    y = cy[:, None, None, None] + gy[None, None, :, None] + 0 * gx[None, None, None, :]
    x = np.broadcast_to(x, (lines, chars_per_line, CELL_H, CELL_W))
    y = np.broadcast_to(y, (lines, chars_per_line, CELL_H, CELL_W))
    grid = np.stack([x, y], axis=-1).reshape(lines * chars_per_line, CELL_H, CELL_W, 2)
    return np.asarray(grid, dtype=np.float64)


def extract_cells(
    grey: GreyImage,
    homography: FloatArray,
    chars_per_line: int,
    lines: int,
    pitch_px: float,
    shift: tuple[float, float] = (0.0, 0.0),
) -> CellArray:
    """(lines * chars, CELL_H * CELL_W) normalised cells, row-major, line after line."""
    grid = cell_grid(chars_per_line, lines, shift)
    with np.errstate(all="ignore"):
        points = apply_homography(homography, grid.reshape(-1, 2))
    if not np.isfinite(points).all():
        raise ValueError("degenerate MRZ geometry")
    # crop the MRZ's bounding box (with a margin), smooth it to the sampling step, then sample
    margin = 2 * pitch_px
    h, w = grey.shape
    x0 = max(0, int(points[:, 0].min() - margin))
    x1 = min(w, int(points[:, 0].max() + margin) + 1)
    y0 = max(0, int(points[:, 1].min() - margin))
    y1 = min(h, int(points[:, 1].max() + margin) + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ValueError("MRZ outside the image")
    crop = np.asarray(grey[y0:y1, x0:x1], dtype=np.float32)
    step_px = pitch_px * CELL_SPAN_X / CELL_W
    if step_px > 1.5:
        crop = ndimage.gaussian_filter(crop, sigma=0.45 * step_px)
    coords = np.stack([points[:, 1] - y0, points[:, 0] - x0])
    samples = ndimage.map_coordinates(crop, coords, order=1, mode="nearest")
    cells = samples.reshape(lines * chars_per_line, CELL_H * CELL_W).astype(np.float32)
    return normalise(cells)


def normalise(cells: CellArray) -> CellArray:
    """Grey levels -> ink darkness in [0, 1], per cell (each MRZ cell holds a glyph)."""
    paper = np.percentile(cells, 90, axis=1, keepdims=True)
    ink = np.percentile(cells, 2, axis=1, keepdims=True)
    span = np.maximum(paper - ink, 12.0)
    out = (paper - cells) / span
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float32)
