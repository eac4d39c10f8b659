"""The CLI's image loader: limits before decoding, EXIF orientation, colour modes, clear errors."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from kiosk.biometrics.images import ImageLoadError, load_rgb


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` RGB pixels and holds no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def gradient(width: int, height: int) -> np.ndarray:
    """An RGB image whose pixels differ by position, so orientation and scaling are visible."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), 0 * x], axis=2)


def test_rgb_jpeg_gives_contiguous_uint8(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    Image.fromarray(gradient(40, 30).astype(np.uint8)).save(path)
    img = load_rgb(path)
    assert img.shape == (30, 40, 3)
    assert img.dtype == np.uint8
    assert img.flags.c_contiguous


def test_rgba_is_composited_over_grey(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red everywhere, but only the left half is opaque
    rgba[:, :5, 3] = 255
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    img = load_rgb(path)
    assert img.shape == (10, 10, 3)
    assert img[0, 0].tolist() == [255, 0, 0]
    assert img[0, 9].tolist() == [128, 128, 128]


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16"])
def test_other_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    path = tmp_path / ("a.tif" if mode in ("CMYK", "I;16") else "a.png")
    Image.fromarray(gradient(20, 10).astype(np.uint8)).convert(mode).save(path)
    img = load_rgb(path)
    assert img.shape == (10, 20, 3)
    assert img.dtype == np.uint8
    assert img.max() > 0


@pytest.mark.parametrize(("orientation", "corner"), [(6, "top_right"), (8, "bottom_left")])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, corner: str) -> None:
    upright = np.zeros((20, 30, 3), dtype=np.uint8)
    upright[:5, :5] = 255  # a white top-left corner
    # Store the pixels as a camera held sideways would; the tag says how to turn them upright.
    stored = np.rot90(upright, k=1 if orientation == 6 else -1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "a.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    raw = np.asarray(Image.open(path))
    assert raw.shape[:2] == (30, 20)  # control: the file itself is sideways
    img = load_rgb(path)
    assert img.shape[:2] == (20, 30)
    assert img[:5, :5].mean() > 200
    assert img[-5:, -5:].mean() < 50


def test_large_image_is_downscaled(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(gradient(3000, 1500).astype(np.uint8)).save(path)
    assert load_rgb(path).shape == (640, 1280, 3)
    assert load_rgb(path, max_side=3000).shape == (1500, 3000, 3)


def test_pixel_limit_is_checked_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = png_header_only(tmp_path / "bomb.png", 6000, 5000)  # 30 MP in 57 bytes
    assert path.stat().st_size < 100

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("decoded an oversized image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageLoadError, match=r"too large: 6000 x 5000 pixels"):
        load_rgb(path)


def test_pillow_bomb_check_is_a_clear_error(tmp_path: Path) -> None:
    path = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageLoadError, match="too large"):
        load_rgb(path)


def test_under_the_pixel_limit_a_header_only_png_is_corrupt(tmp_path: Path) -> None:
    # Control for the two tests above: the refusal there is the size's, not the missing data's.
    with pytest.raises(ImageLoadError, match="corrupt"):
        load_rgb(png_header_only(tmp_path / "small.png", 60, 50))


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(gradient(64, 64).astype(np.uint8)).save(path)
    size = path.stat().st_size
    assert load_rgb(path, max_bytes=size).shape == (64, 64, 3)
    with pytest.raises(ImageLoadError, match="file too large"):
        load_rgb(path, max_bytes=size - 1)


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    Image.fromarray(gradient(200, 200).astype(np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:400])
    with pytest.raises(ImageLoadError, match="corrupt"):
        load_rgb(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"hello, not an image\n", "not a recognised image format"), (b"", "empty file")],
)
def test_non_images_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=message):
        load_rgb(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="cannot read file"):
        load_rgb(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_rgb(tmp_path)


def test_image_load_error_is_a_value_error() -> None:
    assert issubclass(ImageLoadError, ValueError)
