"""Mock imaging barcode scanner: pictures of the boarding passes or cruise card presented.

The traveller presents the barcode texts (``present``); ``scan`` renders each as a PDF417 on the
scanner window (see ``hardware_mocks.boarding_pass``), optionally degraded (``degraded=True``:
seeded skew, blur, noise, kept decodable). ``Fault.DAMAGED`` smears every code so that none can
be decoded; ``Fault.ABSENT`` shows nothing; ERROR and HANG as for every mock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from hardware_mocks._base import Fault, MockDevice
from hardware_mocks.boarding_pass import render_scan
from hardware_mocks.interfaces import RGBImage


class MockBarcodeScanner(MockDevice):
    kind = "scanner"

    def __init__(
        self,
        device_id: str = "scanner",
        *,
        speed: float = 1.0,
        seed: int = 0,
        scan_delay_s: float = 2.0,
        degraded: bool = False,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.scan_delay_s = scan_delay_s
        self.degraded = degraded
        self._barcodes: tuple[str, ...] = ()
        self.scans = 0
        self.on_scan: Callable[[], None] | None = None
        """Called once at the next scan (the mocks use it to make a traveller walk away)."""

    @property
    def presented(self) -> tuple[str, ...]:
        return self._barcodes

    def present(self, barcodes: str | Sequence[str] | None) -> None:
        """The barcode texts the traveller will show (a string is one; None or empty: none)."""
        if barcodes is None:
            self._barcodes = ()
        elif isinstance(barcodes, str):
            self._barcodes = (barcodes,)
        else:
            self._barcodes = tuple(barcodes)

    def _render(self, texts: tuple[str, ...], seeds: list[int], damaged: bool) -> list[RGBImage]:
        return [
            render_scan(text, seed=seed, degraded=self.degraded, damaged=damaged)
            for text, seed in zip(texts, seeds, strict=True)
        ]

    async def scan(self, timeout_s: float) -> list[RGBImage] | None:
        await self._check_fault()
        hook, self.on_scan = self.on_scan, None
        if hook is not None:
            hook()
        if self.fault is Fault.ABSENT or not self._barcodes:
            await asyncio.sleep(timeout_s)
            return None
        delay = self.scaled(self.scan_delay_s * (1 + self._rng.uniform(-0.2, 0.2)))
        if delay > timeout_s:
            await asyncio.sleep(timeout_s)
            return None
        texts = self._barcodes
        seeds = [self._rng.getrandbits(32) for _ in texts]
        damaged = self.fault is Fault.DAMAGED
        started = asyncio.get_running_loop().time()
        images = await asyncio.to_thread(self._render, texts, seeds, damaged)
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, delay - elapsed))
        await self._check_fault()
        self.scans += 1
        return images
