"""Hostile input for the MRZ reader: text-level parsing, the decoder and the image path.

Each parser answers with its documented error (``MRZParseError`` for text, an invalid
``MRZRead`` for images, ``ValueError`` for a probability array of the wrong shape), never any
other exception.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from bordergate.clearance_api import DocumentData
from kiosk.document import MRZParseError, parse_mrz
from kiosk.mrz import MRZRead, read_mrz
from kiosk.mrz.classify import ALPHABET
from kiosk.mrz.repair import LAYOUTS, Decoded, decode
from tests.conftest import ReliabilityCase
from tests.kiosk.mrz.conftest import SPECIMEN, sample

TODAY = date(2025, 6, 1)
MRZ_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
TEXT_EXAMPLES = 400
IMAGE_EXAMPLES = 40

DECODER_EXAMPLES = 150

pytestmark = pytest.mark.reliability("hostile")


def FUZZ_N(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:  # noqa: N802
    """Bounded and repeatable: ``n`` examples, derandomized, no example database."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FUZZ = FUZZ_N(TEXT_EXAMPLES)

any_lines = st.lists(st.text(max_size=60), max_size=5)
# Lines of the right lengths from the MRZ alphabet (plus some noise): they get past the length
# check into the field decoding.
shaped_lines = st.sampled_from([(44, 44), (36, 36), (30, 30, 30)]).flatmap(
    lambda lengths: st.tuples(
        *(
            st.text(st.sampled_from(MRZ_CHARS + " <<<<a0é\x00"), min_size=n, max_size=n)
            for n in lengths
        )
    )
)


def _mutations(lines: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    """The specimen with a few characters replaced by anything the MRZ alphabet holds."""
    text = "".join(lines)
    edits = st.lists(
        st.tuples(st.integers(0, len(text) - 1), st.sampled_from(MRZ_CHARS)), max_size=6
    )

    def apply(changes: list[tuple[int, str]]) -> tuple[str, ...]:
        chars = list(text)
        for at, ch in changes:
            chars[at] = ch
        joined = "".join(chars)
        return (joined[:44], joined[44:])

    return edits.map(apply)


def _parse_or_refuse(lines: tuple[str, ...] | list[str]) -> DocumentData | None:
    try:
        return parse_mrz(lines, today=TODAY)
    except MRZParseError as exc:
        reason = str(exc)
    assert reason, "a refusal says why"
    return None


def test_mrz_text_parser_answers_or_refuses(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{TEXT_EXAMPLES} generated MRZ texts (hypothesis): arbitrary Unicode lines, lines of "
        "TD1/TD2/TD3 lengths from the MRZ alphabet with noise, and the ICAO specimen with up to "
        "six characters changed"
    )
    seen = {"parsed": 0, "refused": 0}

    @FUZZ
    @given(lines=st.one_of(any_lines, shaped_lines, _mutations(SPECIMEN)))
    def fuzz(lines: tuple[str, ...] | list[str]) -> None:
        parsed = _parse_or_refuse(lines)
        seen["refused" if parsed is None else "parsed"] += 1
        if parsed is not None:
            # What it returns is well-formed: a date is a date, the sex one of three.
            assert isinstance(parsed.birth_date, date)
            assert parsed.sex in ("M", "F", "X")

    fuzz()
    reliability_case.measured("texts parsed", seen["parsed"])
    reliability_case.measured("texts refused with MRZParseError", seen["refused"])
    reliability_case.asserts(
        "parse_mrz returns document data or raises MRZParseError with a reason; nothing else"
    )
    assert seen["parsed"]
    assert seen["refused"]


@FUZZ
@given(lines=_mutations(SPECIMEN))
def test_a_changed_check_digit_is_never_reported_valid(lines: tuple[str, ...]) -> None:
    """Any edit that leaves the specimen's data but changes one of its check digits is caught."""
    text = "".join(SPECIMEN)
    changed = "".join(lines)
    # Positions of the check digits on line 2 of TD3: document, birth, expiry, optional, composite.
    check_positions = {44 + 9, 44 + 19, 44 + 27, 44 + 42, 44 + 43}
    diff = {i for i, (a, b) in enumerate(zip(text, changed, strict=True)) if a != b}
    parsed = _parse_or_refuse(lines)
    if diff and diff <= check_positions and parsed is not None:
        assert not parsed.check_digits_valid


def test_decoder_takes_any_probabilities(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{DECODER_EXAMPLES} random per-cell probability arrays (hypothesis-seeded Dirichlet "
        "draws, flat to near one-hot) for each MRZ layout, some one cell short or long"
    )
    seen = {"decoded": 0, "refused": 0}

    @FUZZ_N(DECODER_EXAMPLES)
    @given(
        layout_size=st.sampled_from(sorted(LAYOUTS)),
        seed=st.integers(0, 2**32 - 1),
        sharpness=st.floats(0.01, 50.0),
        cells_delta=st.sampled_from([0, 0, 0, -1, 1]),
    )
    def fuzz(layout_size: int, seed: int, sharpness: float, cells_delta: int) -> None:
        layout = LAYOUTS[layout_size]
        cells = len(layout.types) + cells_delta
        rng = np.random.default_rng(seed)
        probs = rng.dirichlet(np.full(len(ALPHABET), 1.0 / sharpness), size=cells)
        if cells_delta:
            with pytest.raises(ValueError, match="cells"):
                decode(probs, layout)
            seen["refused"] += 1
            return
        decoded = decode(probs, layout)
        assert isinstance(decoded, Decoded)
        assert len("".join(decoded.lines)) == len(layout.types)
        seen["decoded"] += 1

    fuzz()
    reliability_case.measured("arrays decoded", seen["decoded"])
    reliability_case.measured("wrong-size arrays refused", seen["refused"])
    reliability_case.asserts(
        "decode returns a Decoded (checks passed or not) for the right number of cells and "
        "raises ValueError for a wrong one; nothing else"
    )


def _png(width: int, height: int, payload: bytes) -> bytes:
    """A PNG whose header is valid and whose image data is ``payload`` (usually garbage)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", payload)
        + chunk(b"IEND", b"")
    )


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt)
    return out.getvalue()


garbage_files = st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=2048).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),  # a PNG signature
    st.binary(max_size=2048).map(lambda b: b"\xff\xd8\xff\xe0" + b),  # a JPEG start
    st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.binary(max_size=512)).map(
        lambda t: _png(*t)
    ),  # any declared size, broken data
    st.tuples(st.integers(0, 2**31 - 1), st.binary(max_size=512)).map(
        lambda t: _png(t[0], t[0], zlib.compress(t[1]))
    ),
)


def test_image_reader_refuses_garbage_files(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{IMAGE_EXAMPLES} garbage image files (hypothesis): random bytes, bytes behind a PNG or "
        "JPEG signature, and PNGs with valid headers declaring any size up to 2^31 x 2^31 over "
        "broken or random compressed data"
    )
    reasons: set[str] = set()

    @FUZZ_N(IMAGE_EXAMPLES)
    @given(data=garbage_files)
    def fuzz(data: bytes) -> None:
        read = read_mrz(data, today=TODAY)
        assert isinstance(read, MRZRead)
        assert not read.valid
        assert read.errors
        reasons.add(read.errors[0].split(":")[0])

    fuzz()
    reliability_case.measured("distinct refusals", len(reasons))
    reliability_case.asserts(
        "read_mrz returns an invalid MRZRead with a reason for every file; it never raises"
    )


pixel_arrays = st.one_of(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 160), st.integers(1, 480)),
        elements=st.integers(0, 255),
    ),
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 120), st.integers(1, 400), st.sampled_from([1, 2, 3, 4])),
    ),
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 60), st.integers(0, 200)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=8)),
)


def test_image_reader_refuses_garbage_pixels(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{IMAGE_EXAMPLES} garbage pixel arrays (hypothesis): noise pages of any size up to "
        "160 x 480, 1-4 channels, float arrays with NaN and infinities, and arrays of 0-4 "
        "dimensions; passed as arrays or encoded as PNG/JPEG files"
    )
    seen = {"read": 0}

    @FUZZ_N(IMAGE_EXAMPLES)
    @given(array=pixel_arrays, fmt=st.sampled_from([None, "PNG", "JPEG"]))
    def fuzz(array: np.ndarray, fmt: str | None) -> None:
        source: np.ndarray | bytes = array
        if fmt is not None:
            encodable = array.dtype == np.uint8 and (
                array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
            )
            if not encodable or 0 in array.shape:
                return
            source = _encoded(array, fmt)
        read = read_mrz(source, today=TODAY)
        assert isinstance(read, MRZRead)
        assert read.valid or read.errors
        seen["read"] += 1

    fuzz()
    reliability_case.measured("images read", seen["read"])
    reliability_case.asserts(
        "read_mrz returns an MRZRead (invalid, with a reason, unless the noise is a valid MRZ); "
        "it never raises"
    )


damages = st.lists(
    st.one_of(
        st.tuples(st.just("crop"), st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.05, 1.0)),
        st.tuples(st.just("noise"), st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 0.5)),
        st.tuples(st.just("contrast"), st.floats(0, 4), st.floats(-255, 255), st.just(0.0)),
        st.tuples(st.just("turn"), st.sampled_from([1, 2, 3]), st.just(0.0), st.just(0.0)),
    ),
    min_size=1,
    max_size=4,
)


def _damage(image: np.ndarray, steps: list[tuple[str, float, float, float]]) -> np.ndarray:
    rng = np.random.default_rng(len(steps))
    out = image.astype(np.float32)
    for kind, a, b, c in steps:
        h, w = out.shape[:2]
        if kind == "crop":  # keep a window: top, left, and the share of each side kept
            top, left = int(a * h), int(b * w)
            out = out[top : top + max(1, int(c * h)), left : left + max(1, int(c * w))]
        elif kind == "noise":  # a patch of noise over part of the page
            top, left, side = int(a * h), int(b * w), max(1, int(c * min(h, w)))
            patch = out[top : top + side, left : left + side]
            patch[...] = rng.uniform(0, 255, patch.shape)
        elif kind == "contrast":
            out = np.clip(out * a + b, 0, 255)
        else:
            out = np.rot90(out, int(a))
    return np.ascontiguousarray(out.astype(np.uint8))


@pytest.mark.slow
def test_image_reader_survives_damaged_pages(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects(
        f"{IMAGE_EXAMPLES} rendered TD3 data pages damaged by hypothesis: crops that cut the "
        "MRZ, noise patches over it, contrast crushed or inverted, turns by 90/180/270 degrees"
    )
    page = sample(3, "clean").image
    seen = {"valid": 0, "invalid": 0}

    @FUZZ_N(IMAGE_EXAMPLES)
    @given(steps=damages)
    def fuzz(steps: list[tuple[str, float, float, float]]) -> None:
        read = read_mrz(_damage(page, steps), today=TODAY)
        assert isinstance(read, MRZRead)
        if read.valid:
            # A read that claims validity passed every check digit.
            assert read.check_digits_valid
            seen["valid"] += 1
        else:
            assert read.errors
            seen["invalid"] += 1

    fuzz()
    reliability_case.measured("pages still read valid", seen["valid"])
    reliability_case.measured("pages refused", seen["invalid"])
    reliability_case.asserts(
        "read_mrz returns an MRZRead for every damaged page: valid only with every check digit "
        "passing, otherwise invalid with a reason; it never raises"
    )
