"""A hall crowd: Poisson arrivals pass the entrance counter and wait in one FIFO queue.

All kiosks of a hall share one :class:`HallCrowd` (its ``queue``). Arrival order is kept:
a traveller enters the queue only after their counter event was handled (``on_entry``, e.g.
publishing ``QueueJoined``), so ``QueueJoined`` always precedes ``QueueServed``.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

from bordergate.contracts import Hall
from hardware_mocks.interfaces import EntryEvent
from hardware_mocks.queue_counter import MockQueueCounter
from hardware_mocks.travellers import Traveller, TravellerFactory

log = structlog.get_logger(__name__)

EntryHandler = Callable[[EntryEvent], Awaitable[None]]


class TravellerSource(Protocol):
    """Where a hall's arrivals come from: a factory, or a list prepared in advance."""

    def next(self) -> Traveller: ...


class PresetTravellers:
    """These travellers first (known in advance: on a ship's manifest, in the visa registry),
    then whatever ``then`` makes."""

    def __init__(self, travellers: Sequence[Traveller], then: TravellerSource) -> None:
        self._queue = deque(travellers)
        self._then = then

    def next(self) -> Traveller:
        return self._queue.popleft() if self._queue else self._then.next()


class HallCrowd:
    def __init__(
        self,
        hall: Hall,
        factory: TravellerSource | None = None,
        *,
        rate_per_min: float = 4.0,
        speed: float = 1.0,
        seed: int = 0,
        counter: MockQueueCounter | None = None,
        max_travellers: int | None = None,
    ) -> None:
        if rate_per_min <= 0 or speed <= 0:
            raise ValueError("rate_per_min and speed must be positive")
        self.hall = hall
        self.factory: TravellerSource = (
            factory if factory is not None else TravellerFactory(seed=seed, hall=hall)
        )
        self.rate_per_min = rate_per_min
        self.speed = speed
        self.counter = (
            counter if counter is not None else MockQueueCounter(f"{hall}-entrance", hall)
        )
        self.max_travellers = max_travellers
        self.queue: asyncio.Queue[Traveller] = asyncio.Queue()
        self._rng = random.Random(seed)
        self._walking: dict[str, Traveller] = {}
        self.arrived = 0

    def add(self, traveller: Traveller) -> None:
        """A traveller walks past the entrance counter now (outside the arrival process)."""
        self._walking[traveller.traveller_ref] = traveller
        self.counter.person_passes(traveller.traveller_ref)
        self.arrived += 1

    async def next_traveller(self, timeout_s: float) -> Traveller | None:
        """The head of the queue, or None if nobody is waiting within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self.queue.get()
        except TimeoutError:
            return None

    @property
    def waiting(self) -> int:
        return self.queue.qsize()

    async def run(self, stop: asyncio.Event, on_entry: EntryHandler | None = None) -> None:
        """Arrivals and the entrance until ``stop`` is set (or ``max_travellers`` arrived)."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._arrivals(stop))
            tg.create_task(self._entrance(stop, on_entry))

    async def _arrivals(self, stop: asyncio.Event) -> None:
        mean_gap_s = 60.0 / self.rate_per_min
        while not stop.is_set():
            if self.max_travellers is not None and self.arrived >= self.max_travellers:
                return
            gap = self._rng.expovariate(1.0 / mean_gap_s) / self.speed
            try:
                async with asyncio.timeout(gap):
                    await stop.wait()
                return
            except TimeoutError:
                pass
            self.add(self.factory.next())

    async def _entrance(self, stop: asyncio.Event, on_entry: EntryHandler | None) -> None:
        while not stop.is_set():
            event = await self.counter.wait_for_entry(timeout_s=0.2)
            if event is None:
                continue
            if on_entry is not None:
                try:
                    await on_entry(event)
                except Exception:  # an entry handler must not stop the hall
                    log.exception("queue entry handler failed")
            traveller = self._walking.pop(event.traveller_ref, None)
            if traveller is not None:
                self.queue.put_nowait(traveller)
