"""Mock barcode scanner: returns the presented boarding pass or cruise card text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hardware_mocks._base import Fault, MockDevice


class MockBarcodeScanner(MockDevice):
    kind = "scanner"

    def __init__(
        self,
        device_id: str = "scanner",
        *,
        speed: float = 1.0,
        seed: int = 0,
        scan_delay_s: float = 2.0,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.scan_delay_s = scan_delay_s
        self._payload: str | None = None
        self.scans = 0
        self.on_scan: Callable[[], None] | None = None
        """Called once at the next scan (the mocks use it to make a traveller walk away)."""

    def present(self, payload: str | None) -> None:
        """The barcode the traveller will show (None: they have none)."""
        self._payload = payload

    async def scan(self, timeout_s: float) -> str | None:
        await self._check_fault()
        hook, self.on_scan = self.on_scan, None
        if hook is not None:
            hook()
        if self.fault is Fault.ABSENT or self._payload is None:
            await asyncio.sleep(timeout_s)
            return None
        delay = self.scaled(self.scan_delay_s * (1 + self._rng.uniform(-0.2, 0.2)))
        if delay > timeout_s:
            await asyncio.sleep(timeout_s)
            return None
        await asyncio.sleep(delay)
        await self._check_fault()
        self.scans += 1
        return self._payload
