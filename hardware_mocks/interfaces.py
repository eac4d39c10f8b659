"""Device interfaces: small async ``typing.Protocol`` classes that a real driver also implements.

The kiosk talks to its devices only through these. Readings are plain frozen dataclasses; images
are contiguous H x W x 3 RGB ``uint8`` arrays and live only as long as one transaction.

Timeouts are in seconds. A device that gives up within its timeout returns ``None`` / ``False``;
a faulty device raises :class:`DeviceError`. A caller must still guard every call with its own
timeout: a hung driver may ignore the one it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bordergate.contracts import Hall

if TYPE_CHECKING:  # the chip package imports this module
    from hardware_mocks.chip.interface import EMRTDChip

RGBImage = npt.NDArray[np.uint8]
"""A contiguous H x W x 3 RGB uint8 array (same alias as ``kiosk.biometrics.RGBImage``)."""


class DeviceError(Exception):
    """A device fault (hardware error, lost connection, jammed reader): the kiosk refers."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
        self.message = message


@dataclass(frozen=True, slots=True, eq=False)
class DocumentReading:
    """What a passport reader read from the document placed on it."""

    mrz_lines: tuple[str, ...]
    """MRZ text from a reader that reads it itself; empty when the kiosk reads ``page_image``."""
    photo: RGBImage | None
    """The document portrait (data-page photo, later the chip's DG2); None if unreadable."""
    read_at: float
    """``time.monotonic()`` when the reading completed."""
    chip: EMRTDChip | None = None
    """The document's contactless chip, reachable while the document lies on the reader."""
    page_image: RGBImage | None = None
    """The data page as the reader images it: the kiosk reads the MRZ from it."""


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One camera frame."""

    image: RGBImage
    timestamp: float
    """Seconds on the camera's monotonic clock at capture (``time.monotonic()`` for a real
    camera; the mock camera runs its own clock, one frame period per frame)."""


@dataclass(frozen=True, slots=True)
class EntryEvent:
    """A person passed a queue-entrance counter."""

    counter_id: str
    hall: Hall
    traveller_ref: str
    at: datetime
    """Aware UTC time of the passage."""


@runtime_checkable
class PassportReader(Protocol):
    async def wait_for_document(self, timeout_s: float) -> DocumentReading | None:
        """Wait until a document is placed and read it; None if nothing was placed in time."""
        ...

    async def wait_for_removal(self, timeout_s: float | None = None) -> bool:
        """Wait until the document is taken off the reader; False if still there at the timeout."""
        ...

    async def document_present(self) -> bool:
        """Whether a document lies on the reader now."""
        ...


@runtime_checkable
class Camera(Protocol):
    async def capture(self) -> Frame:
        """One frame of whatever is in front of the camera (possibly an empty scene)."""
        ...

    async def capture_burst(self, count: int, interval: float) -> list[Frame]:
        """``count`` frames about ``interval`` seconds apart."""
        ...


@runtime_checkable
class Gate(Protocol):
    async def open(self) -> None:
        """Unlock and open the exit doors."""
        ...

    async def close(self) -> None:
        """Close and lock the exit doors (idempotent)."""
        ...

    async def is_open(self) -> bool:
        """The door sensor: True while the doors are not closed and locked."""
        ...

    async def wait_for_passage(self, timeout_s: float) -> bool:
        """Wait for the passage sensor to see one person walk through; False if nobody did."""
        ...


@runtime_checkable
class BarcodeScanner(Protocol):
    """An imaging scanner: it takes pictures, the kiosk decodes them (``kiosk.barcode``)."""

    async def scan(self, timeout_s: float) -> list[RGBImage] | None:
        """Images of what the traveller holds under the scanner, one per boarding pass or card
        (an inbound and an onward pass give two); None if nothing was shown in time."""
        ...


@runtime_checkable
class QueueCounter(Protocol):
    counter_id: str

    async def wait_for_entry(self, timeout_s: float) -> EntryEvent | None:
        """The next person passing the counter; None if nobody passed in time."""
        ...


@dataclass(slots=True)
class LaneDevices:
    """The devices of one e-gate lane, as the kiosk session uses them."""

    reader: PassportReader
    camera: Camera
    scanner: BarcodeScanner
    gate: Gate
