"""One e-gate lane of mock devices, and how a traveller is presented to them."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hardware_mocks.barcode_scanner import MockBarcodeScanner
from hardware_mocks.camera import MockCamera
from hardware_mocks.chip import MockPKI, issue_chip, jpeg_from_rgb
from hardware_mocks.document_page.samples import render_traveller_page
from hardware_mocks.gate import MockGate
from hardware_mocks.interfaces import LaneDevices
from hardware_mocks.passport_reader import MockPassportReader
from hardware_mocks.travellers import Traveller

if TYPE_CHECKING:  # the kiosk imports the mocks, not the other way round at run time
    from kiosk.session import SessionUpdate


class MockLane:
    """Reader, camera, scanner and gate of one lane, all with the same speed factor and seed."""

    def __init__(
        self,
        lane_id: str = "lane",
        *,
        speed: float = 1.0,
        seed: int = 0,
        degraded_scans: bool = True,
        pki: MockPKI | None = None,
        pages: bool = True,
        gate_state_file: Path | None = None,
    ) -> None:
        self.lane_id = lane_id
        self.pages = pages
        """Image each data page (the kiosk then reads its MRZ); off: hand over the MRZ text."""
        self.pki = pki
        """Issues each presented traveller's chip; without it documents have no chip."""
        self.reader = MockPassportReader(f"{lane_id}-reader", speed=speed, seed=seed)
        self.camera = MockCamera(f"{lane_id}-camera", speed=speed, seed=seed + 1)
        self.scanner = MockBarcodeScanner(
            f"{lane_id}-scanner", speed=speed, seed=seed + 2, degraded=degraded_scans
        )
        self.gate = MockGate(
            f"{lane_id}-gate", speed=speed, seed=seed + 3, state_file=gate_state_file
        )

    @property
    def devices(self) -> LaneDevices:
        return LaneDevices(
            reader=self.reader, camera=self.camera, scanner=self.scanner, gate=self.gate
        )

    def present(self, traveller: Traveller) -> None:
        """The traveller steps in: holds their passport, faces the camera, has their barcodes."""
        self.clear()
        if traveller.places_document:
            photo = traveller.reference_photo()
            chip = None
            if self.pki is not None and photo is not None:
                chip_mrz = traveller.chip_mrz_lines or traveller.mrz_lines
                chip = issue_chip(chip_mrz, jpeg_from_rgb(photo), self.pki)
            page = partial(render_traveller_page, traveller) if self.pages else None
            self.reader.present(traveller.mrz_lines, photo, chip, page)
        self.camera.present(traveller.actor() if traveller.live_photo_path else None)
        self.scanner.present(traveller.journey_barcodes)
        self.gate.expect_traveller(will_pass=traveller.walks_away_at is None)
        if traveller.walks_away_at == "face":
            self.camera.on_capture = self._walk_away
        elif traveller.walks_away_at == "journey":
            self.scanner.on_scan = self._walk_away

    def observe(self, update: SessionUpdate) -> None:
        """A session observer: whoever stands at the camera sees the screen's prompts."""
        if update.prompt is not None:
            self.camera.prompt(update.prompt)

    def _walk_away(self) -> None:
        self.reader.remove()
        self.camera.show(None)
        self.scanner.present(None)

    def clear(self) -> None:
        """Nobody in the lane: drop the presented document, face and barcode."""
        self.reader.clear()
        self.camera.show(None)
        self.camera.on_capture = None
        self.scanner.present(None)
        self.scanner.on_scan = None
        self.gate.expect_traveller(will_pass=False)
