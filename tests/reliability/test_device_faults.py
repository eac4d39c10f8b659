"""Device faults at a lane: a reader, camera, barcode scanner or gate that errors, hangs,
disconnects or (the gate) will not close.

In process, on the mock devices of ``hardware_mocks`` at 100x speed, through the kiosk's own
serving loop (``kiosk.runner.run_lane``) against a recording backend that admits everyone. What
each case keeps: the faulted traveller is referred with a reason code naming the fault, the gate
never opens for them, and the lane either serves the next traveller (the device answers its
check) or goes out of service (heartbeat ``error``, a critical alert) until the device is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from redis.asyncio import Redis

from bordergate.contracts import (
    STREAM_ALERTS,
    Alert,
    DeviceHeartbeat,
    Hall,
    Outcome,
    ReasonCode,
    decode_event,
    heartbeat_key,
)
from hardware_mocks._base import Fault, MockDevice
from hardware_mocks.crowd import HallCrowd
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import TravellerFactory
from kiosk.lane_health import OUT_OF_SERVICE
from kiosk.runner import LaneStats, run_lane
from kiosk.session import SessionResult, SessionState, SessionUpdate
from kiosk.settings import KioskSettings
from tests.conftest import ReliabilityCase
from tests.kiosk.conftest import NO_SURPRISES, FakeVerifier, RecordingBackend, wait_until

pytestmark = pytest.mark.reliability("faults")

DEVICES = ("reader", "camera", "scanner", "gate")
# The step in which each device is in use: a fault injected as the session enters it.
STEP_OF = {
    "reader": SessionState.DOCUMENT,
    "camera": SessionState.FACE,
    "scanner": SessionState.JOURNEY,
    "gate": SessionState.GATE_OPEN,
}


@pytest.fixture
def faces_dir(tmp_path: Path) -> Path:
    """Synthetic 'identities' (the fake verifier never looks at them)."""
    rng = np.random.default_rng(3)
    for name in ("alpha", "beta"):
        (tmp_path / "faces" / name).mkdir(parents=True)
        for i in range(2):  # a document photo and a live one
            pixels = rng.integers(0, 256, (125, 125, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "faces" / name / f"{name}_{i}.jpg")
    return tmp_path / "faces"


@pytest.fixture
def settings() -> KioskSettings:
    return KioskSettings(
        lane_id="F1",
        hall=Hall.AIRPORT,
        speed=100.0,
        device_grace_s=0.5,
        # The mock scanner renders its PDF417 pictures on this CPU: room for a loaded machine.
        journey_timeout_s=150.0,
        backend_timeout_s=1.0,
        burst_interval_s=0.0,
        heartbeat_interval_s=0.05,
        idle_poll_s=0.05,
        redis_timeout_s=0.3,
        device_probe_timeout_s=0.3,
        out_of_service_probe_s=0.1,
    )


@dataclass
class LaneRun:
    """One lane serving a queue of travellers, with what it did so far."""

    lane: MockLane
    backend: RecordingBackend
    redis: Redis
    settings: KioskSettings
    results: list[SessionResult] = field(default_factory=list)
    updates: list[SessionUpdate] = field(default_factory=list)
    stats: LaneStats | None = None
    entered: list[tuple[SessionState, float]] = field(default_factory=list)
    """(state, monotonic time) of every state change, to tell the sessions apart."""

    async def heartbeat(self) -> DeviceHeartbeat | None:
        raw = await self.redis.get(heartbeat_key("kiosk", self.settings.lane_id))
        return None if raw is None else DeviceHeartbeat.model_validate_json(raw)

    async def alerts(self) -> list[Alert]:
        entries: Any = await self.redis.xrange(STREAM_ALERTS)
        events = [decode_event(fields) for _, fields in entries]
        return [e for e in events if isinstance(e, Alert)]

    def gate_opens_for(self, index: int) -> int:
        """Gate openings during the ``index``-th session (0-based) on this lane."""
        starts = [at for state, at in self.entered if state is SessionState.DOCUMENT]
        end = starts[index + 1] if index + 1 < len(starts) else float("inf")
        return sum(
            1 for e in self.lane.gate.history if e.action == "open" and starts[index] <= e.at < end
        )


@asynccontextmanager
async def serving(
    settings: KioskSettings,
    redis: Redis,
    faces_dir: Path,
    travellers: int,
    on_update: Callable[[SessionUpdate, MockLane], None] | None = None,
) -> AsyncIterator[LaneRun]:
    """The lane serving ``travellers`` queued citizens-or-foreigners, until the block ends."""
    factory = TravellerFactory(seed=21, hall=Hall.AIRPORT, faces_dir=faces_dir, mix=NO_SURPRISES)
    crowd = HallCrowd(Hall.AIRPORT, factory)
    for _ in range(travellers):
        crowd.add(factory.next())
    lane = MockLane(
        settings.lane_id, speed=settings.speed, seed=5, pages=False, degraded_scans=False
    )
    backend = RecordingBackend()
    run = LaneRun(lane, backend, redis, settings)

    def observe(update: SessionUpdate) -> None:
        run.updates.append(update)
        run.entered.append((update.state, time.monotonic()))
        if on_update is not None:
            on_update(update, lane)

    stop = asyncio.Event()
    async with backend.client(timeout_s=settings.backend_timeout_s) as client:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(crowd.run(stop))
            task = tg.create_task(
                run_lane(settings, redis, crowd, FakeVerifier(), stop, lane=lane, backend=client,
                         observer=observe, on_result=run.results.append)
            )  # fmt: skip
            try:
                yield run
            finally:
                stop.set()
        run.stats = task.result()


def device_of(lane: MockLane, name: str) -> MockDevice:
    device = getattr(lane, name)
    assert isinstance(device, MockDevice)
    return device


def inject_when_in_use(name: str, fault: Fault, times: int | None) -> Callable[..., None]:
    """A fault on device ``name`` as the first session enters the step that uses it."""
    done: list[bool] = []

    def on_update(update: SessionUpdate, lane: MockLane) -> None:
        if update.state is STEP_OF[name] and not done:
            done.append(True)
            device_of(lane, name).inject(fault, times)

    return on_update


@pytest.mark.parametrize("fault", [Fault.ERROR, Fault.HANG])
@pytest.mark.parametrize("name", DEVICES)
async def test_a_device_that_errs_or_hangs_once_refers_the_traveller_and_the_lane_goes_on(
    reliability_case: ReliabilityCase,
    fake_redis: Redis,
    settings: KioskSettings,
    faces_dir: Path,
    name: str,
    fault: Fault,
) -> None:
    verb = "raises a device error" if fault is Fault.ERROR else "hangs (never answers)"
    reliability_case.injects(
        f"The lane's {name} {verb} once, in the step where the first traveller uses it; "
        "the second traveller finds it working."
    )
    expected = ReasonCode.DEVICE_ERROR if fault is Fault.ERROR else ReasonCode.DEVICE_UNRESPONSIVE
    async with serving(
        settings, fake_redis, faces_dir, 2, inject_when_in_use(name, fault, times=1)
    ) as run:
        await wait_until(lambda: len(run.results) == 2, timeout_s=20.0)
        heartbeat = await run.heartbeat()
        alerts = await run.alerts()
    first, second = run.results
    assert first.outcome is Outcome.REFER
    assert first.reasons == [expected], first.detail
    assert first.device_fault == name
    assert run.gate_opens_for(0) == 0, run.lane.gate.history
    assert first.gate_secured
    assert [r["reasons"] for r in run.backend.referrals] == [[expected.value]]
    # The device answered its check: the lane went on with the next traveller.
    assert second.outcome is Outcome.ADMIT, second.detail
    assert second.passed_gate
    assert second.gate_secured
    assert run.gate_opens_for(1) == 1
    assert not await run.lane.gate.is_open()
    assert heartbeat is not None
    assert heartbeat.status == "ok"
    assert alerts == []
    assert run.stats is not None
    assert run.stats.out_of_service == 0
    reliability_case.asserts(
        f"The first traveller is referred with reason {expected.value}, naming the {name}, and "
        "the officer gets the referral; the gate never opens for them and is confirmed shut; "
        "the device answers its check, so the lane admits the next traveller (one gate opening) "
        "and never goes out of service."
    )
    reliability_case.measured("faulted session", round(first.total_s, 3), "s")


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("reader", Fault.DISCONNECTED),
        ("camera", Fault.DISCONNECTED),
        ("camera", Fault.HANG),
        ("scanner", Fault.DISCONNECTED),
        ("gate", Fault.DISCONNECTED),
    ],
)
async def test_a_device_that_stays_down_takes_the_lane_out_of_service_until_it_is_back(
    reliability_case: ReliabilityCase,
    fake_redis: Redis,
    settings: KioskSettings,
    faces_dir: Path,
    name: str,
    fault: Fault,
) -> None:
    how = "is unplugged" if fault is Fault.DISCONNECTED else "hangs"
    reliability_case.injects(
        f"The lane's {name} {how} as the first traveller reaches the step that uses it, and "
        "stays so until the test plugs it back in; a second traveller waits in the queue."
    )
    expected = ReasonCode.DEVICE_UNRESPONSIVE if fault is Fault.HANG else ReasonCode.DEVICE_ERROR
    async with serving(
        settings, fake_redis, faces_dir, 2, inject_when_in_use(name, fault, times=None)
    ) as run:
        await wait_until(lambda: len(run.results) == 1, timeout_s=20.0)
        faulted_at = time.monotonic()

        async def out_of_service() -> bool:
            beat = await run.heartbeat()
            return beat is not None and beat.status == "error"

        async with asyncio.timeout(10):
            while not await out_of_service():  # noqa: ASYNC110 - polling Redis, as a monitor does
                await asyncio.sleep(0.02)
        detected_s = time.monotonic() - faulted_at
        down = await run.heartbeat()
        await asyncio.sleep(0.5)  # the lane holds the queue while the device is down
        held = len(run.results)
        gate_opens_while_down = run.lane.gate.open_count

        device_of(run.lane, name).inject(Fault.NONE)
        plugged_at = time.monotonic()
        await wait_until(lambda: len(run.results) == 2, timeout_s=20.0)
        back_s = time.monotonic() - plugged_at
        up = await run.heartbeat()
        alerts = await run.alerts()

    first, second = run.results
    assert first.outcome is Outcome.REFER
    assert first.reasons == [expected], first.detail
    assert first.device_fault == name
    assert run.gate_opens_for(0) == 0
    assert down is not None
    assert name in down.detail, down
    assert held == 1, "the lane served a traveller while its device was down"
    assert gate_opens_while_down == 0
    raised, cleared = alerts
    assert raised.kind == OUT_OF_SERVICE
    assert raised.severity == "critical"
    assert raised.data == {"lane_id": settings.lane_id, "devices": [name]}
    assert cleared.kind == f"{OUT_OF_SERVICE}-cleared"
    assert cleared.data["raised_event_id"] == raised.event_id
    assert up is not None
    assert up.status == "ok"
    assert second.outcome is Outcome.ADMIT, second.detail
    assert run.gate_opens_for(1) == 1
    assert not await run.lane.gate.is_open()
    assert run.stats is not None
    assert run.stats.out_of_service == 1
    reliability_case.asserts(
        f"The first traveller is referred ({expected.value}, the {name} named) and the gate "
        "never opens for them; the lane then goes out of service: its heartbeat says error "
        f"naming the {name}, a critical lane-out-of-service alert is published, and it takes "
        "nobody from the queue while the device is down; once the device answers again the "
        "alert is cleared and the waiting traveller is admitted."
    )
    reliability_case.measured("out of service after the fault", round(detected_s, 3), "s")
    reliability_case.measured("back in service after reconnection", round(back_s, 3), "s")


async def test_a_gate_that_will_not_close_after_the_traveller_passes_stops_the_lane(
    reliability_case: ReliabilityCase, fake_redis: Redis, settings: KioskSettings, faces_dir: Path
) -> None:
    reliability_case.injects(
        "The gate's doors jam open as an admitted traveller walks through: the close command "
        "returns as if done but the door sensor still reads open; a second traveller waits."
    )

    def jam(update: SessionUpdate, lane: MockLane) -> None:
        if update.state is SessionState.GATE_OPEN and not lane.gate.ever_opened:
            lane.gate.jammed_open = True

    async with serving(settings, fake_redis, faces_dir, 2, jam) as run:
        await wait_until(lambda: len(run.results) == 1, timeout_s=20.0)
        async with asyncio.timeout(10):
            while (beat := await run.heartbeat()) is None or beat.status != "error":  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        still_open = await run.lane.gate.is_open()
        await asyncio.sleep(0.5)
        held = len(run.results)
        opens_while_jammed = run.lane.gate.open_count
        run.lane.gate.jammed_open = False  # a technician frees the doors
        await wait_until(lambda: len(run.results) == 2, timeout_s=20.0)
        alerts = await run.alerts()

    first, second = run.results
    assert first.outcome is Outcome.ADMIT  # their clearance stands
    assert first.passed_gate
    assert not first.gate_secured
    assert first.device_fault == "gate"
    assert "did not close" in first.detail
    assert still_open
    assert held == 1
    assert opens_while_jammed == 1
    assert beat.detail.startswith("gate:"), beat
    assert [a.kind for a in alerts] == [OUT_OF_SERVICE, f"{OUT_OF_SERVICE}-cleared"]
    assert second.outcome is Outcome.ADMIT
    assert second.gate_secured
    assert run.lane.gate.open_count == 2
    assert not await run.lane.gate.is_open()
    reliability_case.asserts(
        "The admitted traveller's outcome stands, but the session reports the gate as not "
        "secured; the lane goes out of service at once (heartbeat error naming the gate, a "
        "critical alert) and opens for nobody while the doors stay open; once they close the "
        "alert is cleared and the next traveller is admitted."
    )
