from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from bordergate.contracts import Hall
from hardware_mocks._base import Fault
from hardware_mocks.barcode_scanner import MockBarcodeScanner
from hardware_mocks.camera import MockCamera
from hardware_mocks.crowd import HallCrowd
from hardware_mocks.gate import MockGate
from hardware_mocks.interfaces import (
    BarcodeScanner,
    Camera,
    DeviceError,
    EntryEvent,
    Gate,
    PassportReader,
    QueueCounter,
)
from hardware_mocks.passport_reader import MockPassportReader
from hardware_mocks.queue_counter import MockQueueCounter
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.barcode import decode_barcodes

LINES = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def test_mocks_implement_the_protocols() -> None:
    assert isinstance(MockPassportReader(), PassportReader)
    assert isinstance(MockCamera(), Camera)
    assert isinstance(MockGate(), Gate)
    assert isinstance(MockBarcodeScanner(), BarcodeScanner)
    assert isinstance(MockQueueCounter("c", Hall.CRUISE), QueueCounter)


async def test_reader_reads_then_detects_removal() -> None:
    reader = MockPassportReader(speed=100)
    photo = np.zeros((360, 300, 3), dtype=np.uint8)
    reader.present(LINES, photo)
    reading = await reader.wait_for_document(1.0)
    assert reading is not None
    assert reading.mrz_lines == LINES
    assert reading.photo is not None
    assert reading.photo.shape == (360, 300, 3)
    assert reading.photo is not photo  # a copy: the caller may drop it
    assert await reader.document_present()
    assert not await reader.wait_for_removal(0.05)
    asyncio.get_running_loop().call_later(0.05, reader.remove)
    assert await reader.wait_for_removal(1.0)
    assert not await reader.document_present()


async def test_reader_nothing_placed_and_slow_traveller() -> None:
    reader = MockPassportReader(speed=100)
    started = time.monotonic()
    assert await reader.wait_for_document(0.1) is None  # nobody presented anything
    assert 0.09 <= time.monotonic() - started < 0.5
    reader.present(LINES, None)
    reader.place_delay_s = 100.0  # 1 s at speed 100: longer than the timeout
    assert await reader.wait_for_document(0.1) is None


@pytest.mark.parametrize(
    "device",
    [MockPassportReader(), MockCamera(), MockBarcodeScanner(), MockGate()],
    ids=["reader", "camera", "scanner", "gate"],
)
async def test_injected_faults(device: object) -> None:
    calls = {
        MockPassportReader: lambda d: d.wait_for_document(0.1),
        MockCamera: lambda d: d.capture(),
        MockBarcodeScanner: lambda d: d.scan(0.1),
        MockGate: lambda d: d.open(),
    }
    call = calls[type(device)]
    device.fault = Fault.ERROR  # type: ignore[attr-defined]
    with pytest.raises(DeviceError):
        await call(device)
    device.fault = Fault.HANG  # type: ignore[attr-defined]
    with pytest.raises(TimeoutError):  # ignores its own 0.1 s timeout
        async with asyncio.timeout(0.3):
            await call(device)
    device.fault = Fault.NONE  # type: ignore[attr-defined]


async def test_camera_frames() -> None:
    camera = MockCamera(speed=100, seed=1)
    scene = np.full((480, 640, 3), 120, dtype=np.uint8)
    camera.show(scene)
    frames = await camera.capture_burst(3, 0.01)
    assert len(frames) == 3
    for frame in frames:
        assert frame.image.shape == (480, 640, 3)
        assert frame.image.dtype == np.uint8
        assert frame.image.flags["C_CONTIGUOUS"]
        assert np.abs(frame.image.astype(int) - 120).max() <= camera.noise
    assert frames[0].timestamp < frames[1].timestamp < frames[2].timestamp
    assert not np.array_equal(frames[0].image, frames[1].image)  # live sensor noise
    camera.show(None)
    empty = (await camera.capture()).image
    assert empty.std() < 5  # a plain, empty scene


async def test_gate_records_every_action() -> None:
    gate = MockGate(speed=100)
    assert not gate.ever_opened
    assert not await gate.wait_for_passage(0.05)  # closed doors: nobody passes
    gate.expect_traveller(True)
    await gate.open()
    assert await gate.is_open()
    assert await gate.wait_for_passage(1.0)
    await gate.close()
    await gate.close()  # idempotent, not recorded twice
    assert [e.action for e in gate.history] == ["open", "passage", "close"]
    assert gate.open_count == 1
    assert not await gate.is_open()


async def test_scanner() -> None:
    scanner = MockBarcodeScanner(speed=100)
    assert await scanner.scan(0.05) is None
    scanner.present("BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214")
    images = await scanner.scan(1.0)
    assert images is not None
    assert len(images) == 1
    assert images[0].dtype == np.uint8
    assert images[0].shape[2] == 3
    assert decode_barcodes(images[0]) == ["BGCRUISE1|MSCSPL|SP250601|C01X00T47|D|8214"]
    assert scanner.scans == 1
    scanner.fault = Fault.ABSENT
    assert await scanner.scan(0.05) is None


async def test_counter_events() -> None:
    counter = MockQueueCounter("T-east", Hall.AIRPORT)
    assert await counter.wait_for_entry(0.05) is None
    counter.person_passes("abc")
    event = await counter.wait_for_entry(0.5)
    assert isinstance(event, EntryEvent)
    assert (event.counter_id, event.hall, event.traveller_ref) == ("T-east", Hall.AIRPORT, "abc")
    assert event.at.tzinfo is not None
    assert counter.total == 1


async def test_crowd_poisson_arrivals_fifo() -> None:
    mix = PopulationMix()
    factory = TravellerFactory(seed=3, faces_dir=None, mix=mix)
    # 600/min at speed 10: a mean gap of 10 ms.
    crowd = HallCrowd(Hall.CRUISE, factory, rate_per_min=600, speed=10, seed=3, max_travellers=20)
    entries: list[str] = []
    served: list[str] = []

    async def on_entry(event: EntryEvent) -> None:
        assert event.traveller_ref not in served  # joined before it can be served
        entries.append(event.traveller_ref)

    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(crowd.run(stop, on_entry=on_entry))
    while len(served) < 20:
        traveller = await crowd.next_traveller(2.0)
        assert traveller is not None
        served.append(traveller.traveller_ref)
    elapsed = time.monotonic() - started
    stop.set()
    await asyncio.wait_for(task, 2)
    assert served == entries  # FIFO in arrival order
    assert 0.05 < elapsed < 2.0  # about 20 x 10 ms, not instantaneous
    assert crowd.arrived == 20
    assert crowd.counter.total == 20


def test_crowd_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        HallCrowd(Hall.AIRPORT, TravellerFactory(faces_dir=None), rate_per_min=0)
