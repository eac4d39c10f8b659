"""Bad inputs get a clean ``valid: false`` with an error, never an exception."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.mrz.io import MAX_PIXELS, ImageLoadError, load_grey
from kiosk.mrz.reader import read_mrz


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but holds one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + 3 * 16))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def good_png() -> bytes:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_truncated_png(tmp_path: Path, good_png: bytes) -> None:
    path = tmp_path / "truncated.png"
    path.write_bytes(good_png[: len(good_png) // 2])
    result = read_mrz(path)
    assert result.valid is False
    assert result.errors
    assert "truncated" in result.errors[0]


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    result = read_mrz(path)
    assert result.valid is False
    assert result.errors == ("empty file",)


def test_fifty_megapixel_image_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(10_000, 5_000))
    assert path.stat().st_size < 1000
    assert MAX_PIXELS < 10_000 * 5_000
    result = read_mrz(path)
    assert result.valid is False
    assert "too large" in result.errors[0]


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("P<UTOERIKSSON<<ANNA<MARIA\n")
    result = read_mrz(path)
    assert result.valid is False
    assert "not an image" in result.errors[0]


def test_missing_file(tmp_path: Path) -> None:
    result = read_mrz(tmp_path / "absent.jpg")
    assert result.valid is False
    assert "cannot read" in result.errors[0]


def test_image_without_mrz(good_png: bytes) -> None:
    result = read_mrz(good_png)
    assert result.valid is False
    assert "no MRZ" in result.errors[0]
    assert result.to_json("x.png") == {
        "file": "x.png",
        "valid": False,
        "errors": list(result.errors),
    }


def test_good_png_loads(good_png: bytes) -> None:
    grey = load_grey(good_png)
    assert grey.shape == (300, 400)
    with pytest.raises(ImageLoadError):
        load_grey(good_png[:50])
