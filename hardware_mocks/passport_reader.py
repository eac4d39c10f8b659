"""Mock passport reader: holds the presented traveller's document until it is taken off.

For now it returns the MRZ lines and the document photo directly; a later issue renders the full
data page and reads it by OCR, keeping the same :class:`DocumentReading`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hardware_mocks._base import Fault, MockDevice
from hardware_mocks.chip.interface import EMRTDChip
from hardware_mocks.interfaces import DocumentReading, RGBImage


class MockPassportReader(MockDevice):
    kind = "reader"

    def __init__(
        self,
        device_id: str = "reader",
        *,
        speed: float = 1.0,
        seed: int = 0,
        place_delay_s: float = 3.0,
        read_delay_s: float = 1.0,
    ) -> None:
        super().__init__(device_id, speed=speed, seed=seed)
        self.place_delay_s = place_delay_s
        self.read_delay_s = read_delay_s
        self._mrz: tuple[str, ...] | None = None
        self._photo: RGBImage | None = None
        self._chip: EMRTDChip | None = None
        self._page: Callable[[], RGBImage] | None = None
        self._placed = asyncio.Event()
        self._removed = asyncio.Event()
        self.reads = 0

    def present(
        self,
        mrz_lines: tuple[str, ...],
        photo: RGBImage | None,
        chip: EMRTDChip | None = None,
        page: Callable[[], RGBImage] | None = None,
    ) -> None:
        """A traveller holds this document; they place it after ``place_delay_s``.

        With ``page`` (a renderer of the data page) the reader images the page and hands over
        the image only, as a real imaging reader does; without it, the MRZ text itself.
        """
        self._mrz = tuple(mrz_lines)
        self._photo = photo
        self._chip = chip
        self._page = page
        self._placed = asyncio.Event()
        self._removed = asyncio.Event()

    def remove(self) -> None:
        """The traveller takes the document off the reader (or walks away with it)."""
        self._removed.set()
        self._placed.clear()

    def clear(self) -> None:
        """Forget the presented document (end of the transaction)."""
        self.remove()
        self._mrz = None
        self._photo = None
        self._chip = None
        self._page = None

    async def wait_for_document(self, timeout_s: float) -> DocumentReading | None:
        await self._check_fault()
        if self.fault is Fault.ABSENT or self._mrz is None:
            await asyncio.sleep(timeout_s)
            return None
        place = self.scaled(self.place_delay_s * (1 + self._rng.uniform(-0.2, 0.2)))
        if place > timeout_s:
            await asyncio.sleep(timeout_s)
            return None
        await asyncio.sleep(place)
        self._placed.set()
        await self._delay(self.read_delay_s)
        await self._check_fault()
        if self._removed.is_set():
            return None
        self.reads += 1
        photo = None if self._photo is None else self._photo.copy()
        if self._page is not None:
            page = await asyncio.to_thread(self._page)  # imaging the page takes a moment
            return DocumentReading(
                mrz_lines=(), photo=photo, read_at=time.monotonic(), chip=self._chip,
                page_image=page,
            )  # fmt: skip
        return DocumentReading(
            mrz_lines=self._mrz, photo=photo, read_at=time.monotonic(), chip=self._chip
        )

    async def wait_for_removal(self, timeout_s: float | None = None) -> bool:
        await self._check_fault()
        removed = self._removed  # the event of this transaction
        try:
            async with asyncio.timeout(timeout_s):
                await removed.wait()
        except TimeoutError:
            return False
        return True

    async def document_present(self) -> bool:
        await self._check_fault()
        return self._placed.is_set() and not self._removed.is_set()
