from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hardware_mocks.chip import MockPKI, jpeg_from_rgb

# A German specimen-like passport (valid MRZ check digits).
MRZ = (
    "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<",
    "C01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4",
)


@pytest.fixture(scope="session")
def pki() -> MockPKI:
    return MockPKI(seed="tests")


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    y, x = np.mgrid[0:360, 0:300]
    image = np.stack([(x * 255) // 300, (y * 255) // 360, np.full_like(x, 128)], axis=-1)
    return jpeg_from_rgb(np.ascontiguousarray(image.astype(np.uint8)))


def decode(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im.convert("RGB"))
