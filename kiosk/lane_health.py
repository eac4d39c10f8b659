"""Whether a lane's devices work, and the lane's service state when one does not.

The lane checks its devices before its first traveller and after any session that met a device
fault (or could not confirm the gate closed). Each check uses a call the device interface already
has, within ``device_probe_timeout_s``: the reader reports whether a document lies on it, the
camera takes a frame, the scanner scans for no time at all, and the gate is closed and its door
sensor must then read closed. All answer: the lane goes on to the next traveller. Any does not:
the lane is *out of service*: it takes no traveller (a shared hall queue goes to the other lanes),
its heartbeat says ``error`` with the failing devices, and an ``Alert`` (kind
``lane-out-of-service``, critical) goes on the alerts stream for the manager dashboard. It checks
again every ``out_of_service_probe_s`` and, once every device answers, clears the alert
(``lane-out-of-service-cleared``) and serves again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog

from bordergate.contracts import Alert, Hall
from hardware_mocks.interfaces import DeviceError, LaneDevices
from kiosk.settings import KioskSettings

log = structlog.get_logger(__name__)

OUT_OF_SERVICE = "lane-out-of-service"
DeviceKind = Literal["reader", "camera", "scanner", "gate"]


@dataclass(frozen=True, slots=True)
class DeviceProblem:
    device: DeviceKind
    detail: str


async def _probe(
    kind: DeviceKind, call: Awaitable[object], timeout_s: float
) -> DeviceProblem | None:
    try:
        async with asyncio.timeout(timeout_s):
            await call
    except TimeoutError:
        return DeviceProblem(kind, f"no answer within {timeout_s:.1f} s")
    except DeviceError as exc:
        return DeviceProblem(kind, exc.message)
    except Exception as exc:  # a driver bug is a device problem too
        return DeviceProblem(kind, f"check failed: {type(exc).__name__}")
    return None


async def _gate_closed(devices: LaneDevices) -> None:
    await devices.gate.close()
    if await devices.gate.is_open():
        raise DeviceError("gate", "the doors did not close")


async def check_devices(devices: LaneDevices, settings: KioskSettings) -> list[DeviceProblem]:
    """Probe every device of the lane at once; the problems found (empty: all answer)."""
    timeout = settings.device_probe_timeout_s
    gate_timeout = timeout + settings.scaled(settings.gate_actuate_timeout_s)
    results = await asyncio.gather(
        _probe("reader", devices.reader.document_present(), timeout),
        _probe("camera", devices.camera.capture(), timeout),
        _probe("scanner", devices.scanner.scan(0.0), timeout),
        _probe("gate", _gate_closed(devices), gate_timeout),
    )
    return [problem for problem in results if problem is not None]


@dataclass
class LaneHealth:
    """The lane's service state, shared by the serving loop and the heartbeat."""

    needs_check: bool = True
    """Check the devices before the next traveller (at start, and after a device fault)."""
    problems: list[DeviceProblem] = field(default_factory=list)
    alert_event_id: str | None = None
    out_of_service_since: float | None = None

    @property
    def in_service(self) -> bool:
        return not self.problems

    @property
    def status(self) -> Literal["ok", "error"]:
        return "ok" if self.in_service else "error"

    @property
    def detail(self) -> str:
        return "; ".join(f"{p.device}: {p.detail}" for p in self.problems)


def out_of_service_alert(settings: KioskSettings, problems: list[DeviceProblem]) -> Alert:
    devices = sorted({p.device for p in problems})
    return Alert(
        hall=Hall(settings.hall),
        severity="critical",
        kind=OUT_OF_SERVICE,
        message=(
            f"Lane {settings.lane_id} is out of service: "
            + "; ".join(f"{p.device} {p.detail}" for p in problems)
        ),
        data={"lane_id": settings.lane_id, "devices": devices},
    )


def back_in_service_alert(settings: KioskSettings, raised_event_id: str | None) -> Alert:
    return Alert(
        hall=Hall(settings.hall),
        severity="info",
        kind=f"{OUT_OF_SERVICE}-cleared",
        message=f"Lane {settings.lane_id} is back in service",
        data={"lane_id": settings.lane_id, "raised_event_id": raised_event_id},
    )


async def ensure_in_service(
    devices: LaneDevices,
    settings: KioskSettings,
    health: LaneHealth,
    stop: asyncio.Event,
    on_change: Callable[[Alert], Awaitable[object]],
) -> bool:
    """Check the devices if due; while any is down, stay out of service, checking again every
    ``out_of_service_probe_s``, until all answer (True) or ``stop`` is set (False).

    ``on_change`` gets the alert raised or cleared (to publish it and refresh the heartbeat).
    """
    while health.needs_check:
        problems = await check_devices(devices, settings)
        if not problems:
            if not health.in_service:
                down = time.monotonic() - (health.out_of_service_since or time.monotonic())
                log.warning("lane back in service", lane_id=settings.lane_id, down_s=round(down, 2))
                cleared = back_in_service_alert(settings, health.alert_event_id)
                health.problems, health.alert_event_id = [], None
                health.out_of_service_since = None
                await on_change(cleared)
            health.needs_check = False
            break
        was_in_service = health.in_service
        health.problems = problems
        if was_in_service:
            alert = out_of_service_alert(settings, problems)
            health.alert_event_id = alert.event_id
            health.out_of_service_since = time.monotonic()
            log.error("lane out of service", lane_id=settings.lane_id, problems=health.detail)
            await on_change(alert)
        try:
            async with asyncio.timeout(settings.out_of_service_probe_s):
                await stop.wait()
        except TimeoutError:
            continue
        return False
    return True
