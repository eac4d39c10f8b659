"""Mock exit gate: doors with a sensor, a passage sensor, and a log of every open and close."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from hardware_mocks._base import Fault, MockDevice


@dataclass(frozen=True, slots=True)
class GateEvent:
    action: Literal["open", "close", "passage"]
    at: float
    """``time.monotonic()``."""


class MockGate(MockDevice):
    kind = "gate"

    def __init__(
        self,
        device_id: str = "gate",
        *,
        speed: float = 1.0,
        seed: int = 0,
        actuate_delay_s: float = 0.3,
        passage_delay_s: float = 2.5,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.actuate_delay_s = actuate_delay_s
        self.passage_delay_s = passage_delay_s
        self._open = False
        self.traveller_will_pass = True
        self.history: list[GateEvent] = []

    @property
    def open_count(self) -> int:
        return sum(1 for e in self.history if e.action == "open")

    @property
    def ever_opened(self) -> bool:
        return self.open_count > 0

    def expect_traveller(self, will_pass: bool = True) -> None:
        """Whether the presented traveller walks through once the doors open."""
        self.traveller_will_pass = will_pass

    async def open(self) -> None:
        await self._check_fault()
        await self._delay(self.actuate_delay_s, jitter=0.0)
        self._open = True
        self.history.append(GateEvent("open", time.monotonic()))

    async def close(self) -> None:
        # Closing is attempted even when faulty: the doors are spring-loaded and fail locked.
        was_open = self._open
        self._open = False
        if was_open:
            self.history.append(GateEvent("close", time.monotonic()))
        await self._check_fault()
        if was_open:
            await self._delay(self.actuate_delay_s, jitter=0.0)

    async def is_open(self) -> bool:
        await self._check_fault()
        return self._open

    async def wait_for_passage(self, timeout_s: float) -> bool:
        await self._check_fault()
        if not self._open or not self.traveller_will_pass or self.fault is Fault.ABSENT:
            await asyncio.sleep(timeout_s)
            return False
        walk = self.scaled(self.passage_delay_s * (1 + self._rng.uniform(-0.2, 0.2)))
        if walk > timeout_s:
            await asyncio.sleep(timeout_s)
            return False
        await asyncio.sleep(walk)
        self.history.append(GateEvent("passage", time.monotonic()))
        return True
