"""Boarding passes and cruise cards as the traveller holds them: BCBP text and PDF417 images.

* :func:`encode_bcbp` writes IATA BCBP format 'M' text (the inverse of
  ``backend.journey.bcbp.parse_bcbp``), :func:`bcbp_text` builds it from a name and legs;
* :func:`render_pdf417` draws a barcode as a printed pass would carry it (module 3 px wide,
  rows 3 modules high: about 0.33 mm at a 230 dpi scanner), :func:`scan_image` places it on
  the scanner window (at least 1000 x 500 px, light grey paper);
* :func:`degrade` adds what a real imaging scanner sees: a slight skew (up to 1.5 degrees),
  blur, sensor noise, uneven brightness, seeded and small enough to stay decodable;
  :func:`damage` smears a band across the middle of the code so that it cannot be decoded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pdf417gen
from PIL import Image, ImageDraw, ImageFilter

from backend.journey.bcbp import BoardingPass, Leg
from hardware_mocks.interfaces import RGBImage

MODULE_PX = 3
ROW_RATIO = 3
QUIET_ZONE_PX = 12
SCAN_WIDTH = 1000
SCAN_HEIGHT = 500
PAPER = 246
MAX_SKEW_DEG = 1.5
MAX_BLUR_SIGMA = 0.8
MAX_NOISE_SIGMA = 10.0


def bcbp_name(surname: str, given_names: str) -> str:
    """``SURNAME/GIVEN NAMES`` cut to the 20 characters of the BCBP name field."""
    name = f"{surname.strip()}/{given_names.strip()}" if given_names.strip() else surname.strip()
    return name[:20].rstrip()


def _flight_field(number: str) -> str:
    digits = number.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    suffix = number[len(digits) :]
    return f"{int(digits):04d}{suffix or ' '}"


def _seat_field(seat: str | None) -> str:
    if seat is None:
        return "    "
    if seat[:-1].isdigit() and seat[-1].isalpha():
        return f"{int(seat[:-1]):03d}{seat[-1]}"
    return seat.ljust(4)


def encode_leg(leg: Leg) -> str:
    """The 37 mandatory characters of one leg, then its conditional items."""
    if len(leg.conditional) > 255:
        raise ValueError("conditional items longer than 255 characters")
    return (
        leg.pnr.ljust(7)
        + leg.origin
        + leg.destination
        + leg.carrier.ljust(3)
        + _flight_field(leg.flight_number)
        + f"{leg.julian_date:03d}"
        + leg.compartment
        + _seat_field(leg.seat)
        + leg.check_in_sequence.ljust(5)
        + leg.passenger_status
        + f"{len(leg.conditional):02X}"
        + leg.conditional
    )


def encode_bcbp(boarding_pass: BoardingPass) -> str:
    """BCBP format 'M' text for the pass (parse_bcbp(encode_bcbp(p)) == p)."""
    return (
        "M"
        + str(len(boarding_pass.legs))
        + boarding_pass.passenger_name.ljust(20)
        + ("E" if boarding_pass.electronic_ticket else " ")
        + "".join(encode_leg(leg) for leg in boarding_pass.legs)
        + boarding_pass.security_data
    )


def bcbp_text(passenger_name: str, legs: Sequence[Leg], *, electronic_ticket: bool = True) -> str:
    return encode_bcbp(
        BoardingPass(
            passenger_name=passenger_name[:20].rstrip(),
            electronic_ticket=electronic_ticket,
            legs=tuple(legs),
        )
    )


def version_conditional(version: str = "6") -> str:
    """Minimal unique conditional items for a first leg: ``>``, version, empty sections."""
    return f">{version}00" + "00"


def render_pdf417(text: str, *, module_px: int = MODULE_PX) -> Image.Image:
    """The PDF417 symbol (greyscale, white quiet zone), error correction level 3."""
    last: ValueError | None = None
    for columns in (6, 8, 10, 12, 16, 20, 24, 30):
        try:
            codes = pdf417gen.encode(text, columns=columns, security_level=3)
        except ValueError as exc:  # too many rows for this width: widen
            last = exc
            continue
        image: Image.Image = pdf417gen.render_image(
            codes, scale=module_px, ratio=ROW_RATIO, padding=QUIET_ZONE_PX
        )
        return image.convert("L")
    raise ValueError(f"text too long for a PDF417 symbol: {last}")


def scan_image(symbol: Image.Image, rng: random.Random) -> Image.Image:
    """The scanner window: the symbol on light paper at a seeded position."""
    width = max(SCAN_WIDTH, symbol.width + 60)
    height = max(SCAN_HEIGHT, symbol.height + 60)
    canvas = Image.new("L", (width, height), PAPER)
    canvas.paste(
        symbol,
        (rng.randint(30, width - symbol.width - 30), rng.randint(30, height - symbol.height - 30)),
    )
    return canvas


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """Seeded skew, blur, uneven light and sensor noise (kept decodable)."""
    out = image.rotate(
        rng.uniform(-MAX_SKEW_DEG, MAX_SKEW_DEG),
        resample=Image.Resampling.BICUBIC,
        fillcolor=PAPER,
    )
    blur = rng.uniform(0.0, MAX_BLUR_SIGMA)
    if blur > 0.1:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(out, dtype=np.float32)
    gen = np.random.default_rng(rng.getrandbits(64))
    gradient = np.linspace(-1.0, 1.0, pixels.shape[1], dtype=np.float32)[None, :]
    pixels = pixels * rng.uniform(0.85, 1.0) + gradient * rng.uniform(-12, 12)
    pixels += gen.normal(0.0, rng.uniform(2.0, MAX_NOISE_SIGMA), pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def damage(image: Image.Image, rng: random.Random) -> Image.Image:
    """A torn, smeared pass: a dark band over the middle half of the symbol's width."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    left = int(out.width * rng.uniform(0.25, 0.32))
    right = int(out.width * rng.uniform(0.68, 0.75))
    draw.rectangle((left, 0, right, out.height), fill=rng.randint(90, 140))
    return out


def to_rgb(image: Image.Image) -> RGBImage:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def render_scan(
    text: str,
    *,
    seed: int = 0,
    degraded: bool = False,
    damaged: bool = False,
) -> RGBImage:
    """What the imaging scanner sees of one pass or card: an H x W x 3 RGB uint8 array."""
    rng = random.Random(seed)
    symbol = render_pdf417(text)
    if damaged:
        symbol = damage(symbol, rng)
    image = scan_image(symbol, rng)
    if degraded:
        image = degrade(image, rng)
    return to_rgb(image)
