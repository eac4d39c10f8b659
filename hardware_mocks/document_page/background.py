"""Security background: a pale colour wash with seeded guilloche (sine-line bands, a rosette).

Everything is drawn from ``random.Random`` seeded by the caller, so a document always gets the
same background. Lines are about 0.1 mm wide in light tints: they make the page look printed
without hiding any text (the MRZ zone gets a fainter copy, as on real pages, which must read in
the B900 band).
"""

from __future__ import annotations

import colorsys
import math
import random

import numpy as np
from PIL import Image, ImageDraw

Colour = tuple[int, int, int]


def _tint(hue: float, saturation: float, lightness: float) -> Colour:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(r * 255), round(g * 255), round(b * 255)


def palette(rng: random.Random) -> tuple[Colour, Colour, Colour, Colour]:
    """(paper top, paper bottom, line colour 1, line colour 2) for one document design."""
    hue = rng.random()
    other = hue + rng.uniform(0.25, 0.5)
    return (
        _tint(hue, 0.45, 0.93),
        _tint(other, 0.40, 0.94),
        _tint(hue, 0.45, 0.78),
        _tint(other, 0.40, 0.80),
    )


def _wash(size: tuple[int, int], top: Colour, bottom: Colour, rng: random.Random) -> Image.Image:
    """A diagonal two-colour gradient, computed small and scaled up."""
    w, h = 64, 48
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    t = (xs / w) * math.cos(angle) + (ys / h) * math.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    a = np.array(top, np.float32)
    b = np.array(bottom, np.float32)
    small = (a * (1 - t[..., None]) + b * t[..., None]).astype(np.uint8)
    return Image.fromarray(small, "RGB").resize(size, Image.Resampling.BILINEAR)


def draw_waves(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    colour: Colour,
    rng: random.Random,
    *,
    width: int,
    spacing_px: float,
) -> None:
    """A band of parallel sine-modulated lines across the page (two families, crossing)."""
    w, h = size
    xs = np.linspace(0, w, max(64, w // 6))
    for family in range(2):
        wavelength1 = rng.uniform(0.25, 0.6) * w
        wavelength2 = rng.uniform(0.05, 0.12) * w
        amp1 = rng.uniform(0.04, 0.10) * h
        amp2 = rng.uniform(0.005, 0.02) * h
        phase = rng.uniform(0, 2 * math.pi)
        drift = rng.uniform(0.05, 0.25) * (1 if family == 0 else -1)
        count = int(h / spacing_px) + 12
        for k in range(-6, count):
            y0 = k * spacing_px
            ys = (
                y0
                + amp1 * np.sin(2 * math.pi * xs / wavelength1 + phase + k * drift)
                + amp2 * np.sin(2 * math.pi * xs / wavelength2 + phase * 2 + k * 0.5)
            )
            draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=width)


def draw_rosette(
    draw: ImageDraw.ImageDraw,
    centre: tuple[float, float],
    radius: float,
    colour: Colour,
    rng: random.Random,
    *,
    width: int,
) -> None:
    """Concentric modulated circles: the classic guilloche rosette."""
    petals = rng.randint(9, 18)
    rings = rng.randint(14, 24)
    t = np.linspace(0, 2 * math.pi, 720)
    twist = rng.uniform(0.1, 0.4)
    for j in range(rings):
        r = radius * (0.35 + 0.65 * j / rings) * (1 + 0.12 * np.sin(petals * t + j * twist))
        xs = centre[0] + r * np.cos(t)
        ys = centre[1] + r * np.sin(t)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=width)


def security_background(
    size: tuple[int, int],
    dpi: int,
    rng: random.Random,
    *,
    rosette_centre: tuple[float, float],
    rosette_radius: float,
    faint_below: int | None = None,
) -> Image.Image:
    """The printed background of one side; rows from ``faint_below`` down are faded (the MRZ)."""
    paper_a, paper_b, line_a, line_b = palette(rng)
    image = _wash(size, paper_a, paper_b, rng)
    draw = ImageDraw.Draw(image)
    width = max(1, round(dpi / 300))
    draw_waves(draw, size, line_a, rng, width=width, spacing_px=dpi / 25.4 * 1.6)
    draw_rosette(draw, rosette_centre, rosette_radius, line_b, rng, width=width)
    if faint_below is not None and faint_below < size[1]:
        band = image.crop((0, faint_below, size[0], size[1]))
        plain = Image.new("RGB", band.size, paper_b)
        image.paste(Image.blend(band, plain, 0.6), (0, faint_below))
    return image
