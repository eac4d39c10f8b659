"""What every mock device shares: a speed factor for its delays and injectable faults."""

from __future__ import annotations

import asyncio
import random
from enum import StrEnum

from hardware_mocks.interfaces import DeviceError


class Fault(StrEnum):
    """A fault injected into a mock device; it stays until set back to ``NONE``."""

    NONE = "none"
    ERROR = "error"
    """The next operations raise DeviceError."""
    HANG = "hang"
    """The next operations never return, ignoring their own timeout."""
    ABSENT = "absent"
    """Nothing is there: no document placed, no barcode shown, nobody walks through."""
    DAMAGED = "damaged"
    """Barcode scanner only: the pass or card shown is torn or smeared and cannot be decoded."""


class MockDevice:
    """Base for the mocks: seeded jitter on delays, delays divided by ``speed``, faults."""

    kind = "device"

    def __init__(self, device_id: str, *, speed: float = 1.0, seed: int = 0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.device_id = device_id
        self.speed = speed
        self.fault = Fault.NONE
        self._rng = random.Random(seed)

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed

    async def _delay(self, seconds: float, jitter: float = 0.2) -> None:
        factor = 1.0 + self._rng.uniform(-jitter, jitter)
        await asyncio.sleep(max(0.0, self.scaled(seconds * factor)))

    async def _check_fault(self) -> None:
        """Raise for ERROR, never return for HANG; ABSENT is handled by each device."""
        if self.fault is Fault.ERROR:
            raise DeviceError(f"{self.kind}:{self.device_id}", "injected device fault")
        if self.fault is Fault.HANG:
            await asyncio.Event().wait()
