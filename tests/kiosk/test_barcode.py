"""Barcode decoding at the kiosk, and turning decoded texts into journey evidence."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from hardware_mocks.boarding_pass import render_scan
from kiosk.barcode import BarcodeDecodeError, decode_barcodes
from kiosk.session import evidence_kind, journey_evidence

PASS = "M1DESMARAIS/LUC       EABC123 YULFRAAC 0834 326J001A0025 100"
CARD = "BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214"


def _qr(text: str) -> np.ndarray:
    gray = np.asarray(
        zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=4)
    )
    canvas = np.full((400, 400), 255, dtype=np.uint8)
    canvas[100 : 100 + gray.shape[0], 100 : 100 + gray.shape[1]] = gray
    return np.ascontiguousarray(np.repeat(canvas[:, :, None], 3, axis=2))


def test_decodes_pdf417_and_qr() -> None:
    assert decode_barcodes(render_scan(PASS, seed=2, degraded=True)) == [PASS]
    assert decode_barcodes(_qr(PASS)) == [PASS]  # a mobile boarding pass


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((500, 1000, 3), 240, dtype=np.uint8), "no readable"),
        (np.zeros((500, 1000, 3), dtype=np.float32), "uint8"),
        (np.zeros((500, 1000, 4), dtype=np.uint8), "H x W x 3"),
        (np.zeros((10, 10, 3), dtype=np.uint8), "too small"),
        ([[0, 1], [1, 0]], "numpy image"),
    ],
)
def test_unusable_images_give_a_clear_error(image: object, message: str) -> None:
    with pytest.raises(BarcodeDecodeError, match=message):
        decode_barcodes(image)  # type: ignore[arg-type]


def test_evidence_kind_from_the_text() -> None:
    assert evidence_kind(PASS) == "boarding_pass"
    assert evidence_kind(CARD) == "cruise_card"
    assert evidence_kind("https://example.com") is None
    assert evidence_kind("MECARD:N:Smith") is None


def test_journey_evidence_sends_what_decoded() -> None:
    good = render_scan(PASS, seed=1, degraded=True)
    damaged = render_scan(CARD, seed=1, damaged=True)
    evidence, problems = journey_evidence([damaged, good, _qr("https://example.com"), good])
    assert [(e.kind, e.payload) for e in evidence] == [("boarding_pass", PASS)]  # once
    assert len(problems) == 2
    assert problems[0].startswith("image 1: no readable")
    assert problems[1] == "image 3: not a boarding pass or cruise card"


def test_journey_evidence_keeps_at_most_four() -> None:
    texts = [PASS.replace("ABC123", f"ABC12{i}") for i in range(5)]
    evidence, problems = journey_evidence([_qr(t) for t in texts])
    assert [e.payload for e in evidence] == texts[:4]
    assert problems == ["5 barcodes, only 4 sent"]
