"""PDF417 rendering -> zxing decoding, through the degraded and damaged scanner images."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest

from backend.journey.bcbp import parse_bcbp
from hardware_mocks._base import Fault
from hardware_mocks.barcode_scanner import MockBarcodeScanner
from hardware_mocks.boarding_pass import bcbp_name, render_scan
from kiosk.barcode import BarcodeDecodeError, decode_barcodes

SHORT = "M1DESMARAIS/LUC       EABC123 YULFRAAC 0834 326J001A0025 100"
LONG = (
    "M2DESMARAIS/LUC       EAB12C3 YULFRAAC 0834 326J003A0027 167>5321WW1325BAC 0014123456002"
    "001412346700100141234789012A0141234567890 1AC AC 1234567890123    4PCYLX58ZDEF456 FRAGVALH"
    " 3664 327C012C0002 12E2A0140987654321 1AC AC 1234567890123    3PCNWQ^108ABCDEFGH"
)
CARD = "BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214"


@pytest.mark.parametrize("text", [SHORT, LONG, CARD])
def test_clean_render_decodes_exactly(text: str) -> None:
    image = render_scan(text, seed=1)
    assert image.dtype == np.uint8
    assert image.ndim == 3
    assert image.shape[2] == 3
    assert image.flags["C_CONTIGUOUS"]
    assert image.shape[0] >= 500
    assert image.shape[1] >= 1000
    assert decode_barcodes(image) == [text]


def test_degraded_scans_stay_decodable() -> None:
    texts = [SHORT, LONG, CARD]
    decoded = 0
    total = 0
    for seed in range(20):
        for text in texts:
            clean = render_scan(text, seed=seed)
            image = render_scan(text, seed=seed, degraded=True)
            assert not np.array_equal(image, clean)  # really degraded
            total += 1
            with contextlib.suppress(BarcodeDecodeError):
                decoded += decode_barcodes(image) == [text]
    assert decoded / total >= 0.95, f"{decoded}/{total}"


def test_degradation_is_seeded() -> None:
    a = render_scan(SHORT, seed=5, degraded=True)
    b = render_scan(SHORT, seed=5, degraded=True)
    c = render_scan(SHORT, seed=6, degraded=True)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("text", [SHORT, CARD])
def test_damaged_pass_cannot_be_decoded(text: str, seed: int) -> None:
    image = render_scan(text, seed=seed, damaged=True)
    with pytest.raises(BarcodeDecodeError, match="no readable"):
        decode_barcodes(image)


def test_bcbp_name_field() -> None:
    assert bcbp_name("DESMARAIS", "LUC") == "DESMARAIS/LUC"
    assert bcbp_name("SCHWARZENEGGER-MUELLER", "ANNA") == "SCHWARZENEGGER-MUELL"
    assert parse_bcbp(SHORT).passenger_name == bcbp_name("DESMARAIS", "LUC")


async def test_scanner_shows_each_pass_and_can_be_damaged() -> None:
    scanner = MockBarcodeScanner(speed=100, seed=3, degraded=True)
    scanner.present([SHORT, LONG])
    images = await scanner.scan(1.0)
    assert images is not None
    assert [decode_barcodes(image) for image in images] == [[SHORT], [LONG]]

    scanner.fault = Fault.DAMAGED
    images = await scanner.scan(1.0)
    assert images is not None
    assert len(images) == 2
    for image in images:
        with pytest.raises(BarcodeDecodeError):
            decode_barcodes(image)

    scanner.fault = Fault.NONE
    scanner.present(None)
    assert await scanner.scan(0.05) is None
    assert scanner.scans == 2


async def test_scanner_gives_up_at_its_timeout() -> None:
    scanner = MockBarcodeScanner(speed=1, scan_delay_s=5.0)
    scanner.present(SHORT)
    async with asyncio.timeout(1.0):
        assert await scanner.scan(0.05) is None
