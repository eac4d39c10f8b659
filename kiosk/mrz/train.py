"""Train the OCR-B cell classifier from renderings of the font (no document images).

Each training block is two or three lines of random MRZ characters, drawn in OCR-B at the MRZ
geometry (each glyph centred in its cell, capitals centred on the line) at a random pitch of
13-44 pixels, then degraded at random: paper shade and texture, ink density, stroke weight,
rotation and perspective, uneven light and glare, blur, noise and JPEG. The cells are cut with
the reader's own :func:`~kiosk.mrz.segment.extract_cells` through a slightly wrong homography
(localisation error), so the classifier learns what the reader will show it.

Run from the project root (about three minutes on this machine)::

    .venv/bin/python -m kiosk.mrz.train            # writes kiosk/mrz/model.npz

scikit-learn is needed here only; the reader applies the weights with numpy.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from kiosk.mrz.classify import ALPHABET, INDEX, MODEL_PATH, CellClassifier
from kiosk.mrz.locate import LINE_SPACING_PITCHES, FloatArray
from kiosk.mrz.segment import CellArray, extract_cells

OCRB_PATHS = (
    Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"),
    Path("/usr/share/fonts/truetype/ocr-b/OCRB.ttf"),
)
CAP_PER_PITCH = 2.46 / 2.54
"""OCR-B size I capital height over the 2.54 mm pitch (Doc 9303-3 section 4.4)."""


@lru_cache(maxsize=1)
def ocrb_path() -> Path:
    for path in OCRB_PATHS:
        if path.is_file():
            return path
    raise FileNotFoundError("OCR-B font not found (apt-get install fonts-ocr-b)")


@lru_cache(maxsize=64)
def _font(em: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(ocrb_path()), em)


@lru_cache(maxsize=1)
def _cap_ratio() -> float:
    _, top, _, bottom = _font(1000).getbbox("H", anchor="ls")
    return (bottom - top) / 1000


def _random_line(rng: np.random.Generator, n: int) -> str:
    chars = rng.choice(list(ALPHABET), size=n)
    line = list(chars)
    if rng.random() < 0.4:  # a run of fillers, as after names and optional data
        start = int(rng.integers(0, n))
        for i in range(start, min(n, start + int(rng.integers(2, 15)))):
            line[i] = "<"
    return "".join(line)


def render_block(
    rng: np.random.Generator, pitch: float, n: int
) -> tuple[npt.NDArray[np.float32], FloatArray, list[str]]:
    """A block of MRZ-like lines: (grey image, MRZ -> image homography, lines)."""
    lines = 3 if n == 30 else 2
    spacing = LINE_SPACING_PITCHES[n]
    texts = [_random_line(rng, n) for _ in range(lines)]
    margin_x, margin_y = 2.0 * pitch, 1.6 * pitch
    width = math.ceil(n * pitch + 2 * margin_x)
    height = math.ceil((lines - 1) * spacing * pitch + 2 * margin_y)
    paper = float(rng.uniform(150, 255))
    ink = float(rng.uniform(0, min(130.0, paper - 60)))
    image = Image.new("L", (width, height), round(paper))
    draw = ImageDraw.Draw(image)
    _texture(draw, rng, width, height, paper)
    cap = pitch * CAP_PER_PITCH * float(rng.uniform(0.95, 1.05))
    font = _font(max(6, round(cap / _cap_ratio())))
    _, top, _, bottom = font.getbbox("H", anchor="ls")
    cap_px = bottom - top
    for li, text in enumerate(texts):
        baseline = margin_y + li * spacing * pitch + cap_px / 2
        for col, ch in enumerate(text):
            x = margin_x + col * pitch + (pitch - font.getlength(ch)) / 2
            draw.text((x, baseline), ch, font=font, fill=round(ink), anchor="ls")
    # MRZ coordinates (pitches) -> block pixels
    base = np.array([[pitch, 0, margin_x], [0, pitch, margin_y], [0, 0, 1.0]])
    weight = rng.random()
    if pitch > 22 and weight < 0.2:
        image = image.filter(ImageFilter.MinFilter(3))  # bolder strokes
    elif pitch > 22 and weight > 0.85:
        image = image.filter(ImageFilter.MaxFilter(3))  # thinner strokes
    warp = _random_warp(rng, width, height)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    moved = _apply(warp, corners)
    out_w, out_h = math.ceil(moved[:, 0].max()) + 2, math.ceil(moved[:, 1].max()) + 2
    inverse = np.linalg.inv(warp)
    inverse /= inverse[2, 2]
    coeffs = tuple(float(v) for v in inverse.flatten()[:8])
    image = image.transform(
        (out_w, out_h),
        Image.Transform.PERSPECTIVE,
        coeffs,
        Image.Resampling.BILINEAR,
        fillcolor=round(paper),
    )
    grey = np.asarray(image, dtype=np.float32)
    grey = _photometric(rng, grey, pitch)
    return grey, warp @ base, texts


def _texture(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, height: int, paper: float
) -> None:
    """Faint guilloche-like curves across the paper."""
    for _ in range(int(rng.integers(0, 12))):
        shade = round(paper - rng.uniform(8, 45))
        phase, freq, amp = rng.uniform(0, 6.3), rng.uniform(0.005, 0.05), rng.uniform(3, 40)
        y0 = rng.uniform(0, height)
        xs = np.linspace(0, width, 60)
        ys = y0 + amp * np.sin(freq * xs + phase)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=shade, width=1)


def _random_warp(rng: np.random.Generator, width: int, height: int) -> FloatArray:
    angle = math.radians(rng.uniform(-4, 4))
    c, s = math.cos(angle), math.sin(angle)
    px, py = rng.uniform(-2e-4, 2e-4) * 1000 / width, rng.uniform(-4e-4, 4e-4) * 300 / height
    m = np.array([[c, -s, 0], [s, c, 0], [px, py, 1.0]])
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    moved = _apply(m, corners)
    shift = np.array([[1, 0, 4 - moved[:, 0].min()], [0, 1, 4 - moved[:, 1].min()], [0, 0, 1.0]])
    return np.asarray(shift @ m, dtype=np.float64)


def _apply(m: FloatArray, pts: FloatArray) -> FloatArray:
    p = np.column_stack([pts, np.ones(len(pts))]) @ m.T
    return np.asarray(p[:, :2] / p[:, 2:3], dtype=np.float64)


def _photometric(
    rng: np.random.Generator, grey: npt.NDArray[np.float32], pitch: float
) -> npt.NDArray[np.float32]:
    h, w = grey.shape
    if rng.random() < 0.6:  # uneven light
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, 2 * math.pi)
        ramp = (xs * math.cos(a) + ys * math.sin(a)) / max(w, h)
        ramp -= ramp.min()
        grey = grey * (1 - rng.uniform(0.0, 0.4) * ramp)
    if rng.random() < 0.35:  # glare
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sx = rng.uniform(0.05, 0.4) * w
        blob = np.exp(-0.5 * (((xs - cx) / sx) ** 2 + ((ys - cy) / (sx * 0.6)) ** 2))
        grey = grey + rng.uniform(30, 120) * blob
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")
    blur = rng.uniform(0.15, 1.7) * min(1.0, pitch / 22) ** 0.5
    image = image.filter(ImageFilter.GaussianBlur(blur))
    out = np.asarray(image, dtype=np.float32)
    out = out + rng.normal(0, rng.uniform(0.5, 9.0), size=out.shape).astype(np.float32)
    if rng.random() < 0.7:
        buffer = io.BytesIO()
        Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "L").save(
            buffer, format="JPEG", quality=int(rng.integers(35, 96))
        )
        with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
            out = np.asarray(decoded.convert("L"), dtype=np.float32)
    return np.asarray(np.clip(out, 0, 255), dtype=np.float32)


def _jitter(rng: np.random.Generator, homography: FloatArray, n: int, lines: int) -> FloatArray:
    """The true homography composed with a small error in MRZ coordinates (where a locator
    fitted to glyph centres could be wrong): shift, scale, rotation."""
    cx, cy = n / 2, (lines - 1) * LINE_SPACING_PITCHES[n] / 2
    angle = math.radians(rng.normal(0, 0.25))
    scale = 1 + rng.normal(0, 0.003)
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    tx, ty = rng.normal(0, 0.06), rng.normal(0, 0.07)
    about = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    back = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    m = about @ np.array([[c, -s, tx], [s, c, ty], [0, 0, 1.0]]) @ back
    return np.asarray(homography @ m, dtype=np.float64)


def training_set(blocks: int, seed: int) -> tuple[CellArray, npt.NDArray[np.int64]]:
    """``blocks`` rendered blocks' cells and their class indices."""
    rng = np.random.default_rng(seed)
    xs: list[CellArray] = []
    ys: list[int] = []
    for _ in range(blocks):
        n = int(rng.choice([30, 36, 44], p=[0.35, 0.15, 0.5]))
        pitch = float(np.exp(rng.uniform(math.log(13), math.log(44))))
        grey, homography, texts = render_block(rng, pitch, n)
        jittered = _jitter(rng, homography, n, len(texts))
        xs.append(extract_cells(grey, jittered, n, len(texts), pitch))
        ys.extend(INDEX[c] for text in texts for c in text)
    return np.concatenate(xs), np.asarray(ys, dtype=np.int64)


def fit(
    x: CellArray, y: npt.NDArray[np.int64], hidden: int = 192, epochs: int = 40, seed: int = 0
) -> CellClassifier:
    """A one-hidden-layer MLP (scikit-learn), returned as numpy weights."""
    from sklearn.neural_network import (  # type: ignore[import-untyped, unused-ignore]
        MLPClassifier,
    )

    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=1e-4,
        batch_size=256,
        learning_rate_init=1e-3,
        max_iter=epochs,
        early_stopping=True,
        validation_fraction=0.05,
        n_iter_no_change=6,
        random_state=seed,
    )
    model.fit(x, y)
    if list(model.classes_) != list(range(len(ALPHABET))):
        raise ValueError("the training set lacks some characters")
    layers = tuple(
        (np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32))
        for w, b in zip(model.coefs_, model.intercepts_, strict=True)
    )
    return CellClassifier(layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1500)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=9303)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    started = time.perf_counter()
    x, y = training_set(args.blocks, args.seed)
    print(f"{len(y)} cells rendered in {time.perf_counter() - started:.0f} s")
    test_x, test_y = training_set(max(20, args.blocks // 20), args.seed + 1)
    classifier = fit(x, y, args.hidden, args.epochs, args.seed)
    predicted = classifier.probabilities(test_x).argmax(axis=1)
    accuracy = float((predicted == test_y).mean())
    classifier.save(args.out)
    print(
        f"held-out cell accuracy {accuracy:.4f}; wrote {args.out} "
        f"({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
