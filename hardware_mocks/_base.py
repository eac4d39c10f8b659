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
    DISCONNECTED = "disconnected"
    """The device's cable or link is gone: every operation raises DeviceError, also one
    already under way when it is set (the mocks check again before answering)."""


class MockDevice:
    """Base for the mocks: seeded jitter on delays, delays divided by ``speed``, faults."""

    kind = "device"

    def __init__(self, device_id: str, *, speed: float = 1.0, seed: int = 0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.device_id = device_id
        self.speed = speed
        self.fault = Fault.NONE
        self.fault_times: int | None = None
        """How many more faulty operations before ``fault`` clears by itself (None: it stays)."""
        self._rng = random.Random(seed)

    def inject(self, fault: Fault, times: int | None = None) -> None:
        """Set ``fault``, for the next ``times`` operations that meet it (None: until cleared)."""
        self.fault = fault
        self.fault_times = times

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed

    async def _delay(self, seconds: float, jitter: float = 0.2) -> None:
        factor = 1.0 + self._rng.uniform(-jitter, jitter)
        await asyncio.sleep(max(0.0, self.scaled(seconds * factor)))

    def _spend_fault(self) -> None:
        if self.fault_times is not None:
            self.fault_times -= 1
            if self.fault_times <= 0:
                self.fault, self.fault_times = Fault.NONE, None

    async def _check_fault(self) -> None:
        """Raise for ERROR and DISCONNECTED, never return for HANG; ABSENT is handled by each
        device."""
        if self.fault in (Fault.ERROR, Fault.DISCONNECTED):
            gone = self.fault is Fault.DISCONNECTED
            message = "disconnected" if gone else "injected device fault"
            self._spend_fault()
            raise DeviceError(f"{self.kind}:{self.device_id}", message)
        if self.fault is Fault.HANG:
            self._spend_fault()
            await asyncio.Event().wait()
