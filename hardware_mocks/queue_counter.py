"""Mock people counter at a hall's queue entrance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bordergate.contracts import Hall
from hardware_mocks._base import MockDevice
from hardware_mocks.interfaces import EntryEvent


class MockQueueCounter(MockDevice):
    kind = "counter"

    def __init__(self, counter_id: str, hall: Hall, *, speed: float = 1.0, seed: int = 0) -> None:
        super().__init__(counter_id, speed=speed, seed=seed)
        self.counter_id = counter_id
        self.hall = hall
        self._events: asyncio.Queue[EntryEvent] = asyncio.Queue()
        self.total = 0

    def person_passes(self, traveller_ref: str) -> EntryEvent:
        """A person walks past the counter (the mock knows who: a real one sees a body)."""
        event = EntryEvent(self.counter_id, self.hall, traveller_ref, datetime.now(UTC))
        self.total += 1
        self._events.put_nowait(event)
        return event

    async def wait_for_entry(self, timeout_s: float) -> EntryEvent | None:
        await self._check_fault()
        try:
            async with asyncio.timeout(timeout_s):
                return await self._events.get()
        except TimeoutError:
            return None
