"""Mock exit gate: doors with a sensor, a passage sensor, and a log of every open and close.

With ``state_file`` the doors' state outlives the process, as a real gate's door controller does
when the kiosk's computer dies: the file holds whether the doors are open and how often they
opened and closed (JSON), and a new ``MockGate`` starts in that state.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
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
        state_file: Path | None = None,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.actuate_delay_s = actuate_delay_s
        self.passage_delay_s = passage_delay_s
        self._open = False
        self.traveller_will_pass = True
        self.history: list[GateEvent] = []
        self.jammed_open = False
        """The doors stick: ``close()`` returns as if done, but they stay open (and the door
        sensor, ``is_open()``, says so)."""
        self.state_file = state_file
        self._opens_before = 0
        self._closes_before = 0
        if state_file is not None and state_file.exists():
            saved = json.loads(state_file.read_text())
            self._open = bool(saved["open"])
            self._opens_before = int(saved["opens"])
            self._closes_before = int(saved["closes"])
        else:
            self._save()  # a new gate: closed, never opened

    def _save(self) -> None:
        if self.state_file is None:
            return
        closes = sum(1 for e in self.history if e.action == "close")
        state = {
            "open": self._open,
            "opens": self._opens_before + self.open_count,
            "closes": self._closes_before + closes,
        }
        temp = self.state_file.with_suffix(".tmp")
        temp.write_text(json.dumps(state))
        os.replace(temp, self.state_file)

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
        self._save()

    async def close(self) -> None:
        # Closing is attempted even when faulty: the doors are spring-loaded and fail locked
        # (unless they are jammed open).
        was_open = self._open
        if not self.jammed_open:
            self._open = False
        if was_open and not self._open:
            self.history.append(GateEvent("close", time.monotonic()))
            self._save()
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
