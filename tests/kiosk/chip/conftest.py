from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hardware_mocks.chip import MockPKI, jpeg_from_rgb
from kiosk.chip import MasterList

# A German specimen-like passport (valid MRZ check digits).
MRZ = (
    "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<",
    "C01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4",
)
COUNTRIES = ("D", "FRA", "UTO")


@pytest.fixture(scope="session")
def pki() -> MockPKI:
    return MockPKI(seed="kiosk-tests")


@pytest.fixture(scope="session")
def master_folder(pki: MockPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("master_list")
    pki.write_master_list(folder, COUNTRIES)
    return folder


@pytest.fixture(scope="session")
def master_list(master_folder: Path) -> MasterList:
    return MasterList.load(master_folder)


@pytest.fixture(scope="session")
def at(pki: MockPKI) -> datetime:
    return pki.now + timedelta(hours=9, minutes=30)


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    y, x = np.mgrid[0:360, 0:300]
    image = np.stack([(x * 255) // 300, (y * 255) // 360, np.full_like(x, 128)], axis=-1)
    return np.ascontiguousarray(image.astype(np.uint8))


@pytest.fixture(scope="session")
def face_jpeg(face: np.ndarray) -> bytes:
    return jpeg_from_rgb(face)
