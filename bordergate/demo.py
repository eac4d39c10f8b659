"""``bordergate demo``: every part in one process on the embedded defaults.

The backend (uvicorn), the queue monitor and two or more simulated kiosks per hall share one
in-process Redis (fakeredis) unless ``REDIS_URL`` is set; simulated travellers arrive at each
hall, queue at its kiosks and are cleared or referred.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from anyio import to_thread
from pydantic import BaseModel, Field, SecretStr
from redis.asyncio import Redis

from backend.auth.demo_access import prepare_demo_access
from backend.journey.flights import default_registry
from backend.server import build_server
from backend.settings import BackendSettings
from bordergate.contracts import Hall
from bordergate.demo_feeds import cruise_manifests, hall_schedule, post_feeds, visa_entries
from bordergate.redis_conn import new_embedded_server, open_redis
from hardware_mocks.crowd import HallCrowd, PresetTravellers
from hardware_mocks.travellers import TravellerFactory, default_faces_dir
from kiosk.biometrics import FaceVerifier
from kiosk.runner import LaneStats, queue_joined_publisher, run_lane, simulated_documents
from kiosk.screen.hub import ScreenHub
from kiosk.screen.server import serve_screens
from kiosk.settings import KioskSettings
from queue_monitor.service import QueueMonitor, read_stats
from queue_monitor.settings import MonitorSettings
from queue_monitor.store import read_clearance_counts

log = structlog.get_logger(__name__)

LANE_PREFIX = {Hall.AIRPORT: "A", Hall.CRUISE: "C"}


class DemoOptions(BaseModel):
    port: int = Field(default=8000, ge=0, le=65535)
    kiosks_per_hall: int = Field(default=2, ge=1, le=16)
    speed: float = Field(default=5.0, gt=0, description="Device time runs this much faster")
    arrivals_per_min: float = Field(
        default=5.0, gt=0, description="Per hall, in device time (so x speed on the wall clock)"
    )
    seed: int = 7
    preset_travellers: int = Field(
        default=400, ge=0, description="Per hall, generated in advance for the manifests and visas"
    )
    log_level: str = "WARNING"
    faces_dir: Path = Field(
        default_factory=default_faces_dir,
        description="The travellers' face photos: a folder per identity (bordergate.demo_faces)",
    )
    screen_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="The traveller pages' port; default: the backend's + 1 (any free one with 0)",
    )  # fmt: skip

    def traveller_screen_port(self) -> int:
        if self.screen_port is not None:
            return self.screen_port
        return 0 if self.port in (0, 65535) else self.port + 1


class DemoSummary(BaseModel):
    travellers: int
    admitted: int
    referred: int
    p95_wait_s: dict[str, float | None]
    urls: dict[str, str] = Field(default_factory=dict, description="Where each page is")
    users: dict[str, str] = Field(
        default_factory=dict, description="The demo's staff accounts: username -> password"
    )


DEMO_DATABASE = Path("var/demo.sqlite3")
DEMO_MASTER_LIST = Path("var/demo-master-list")


def _fresh_folder(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _fresh_demo_database() -> Path:
    """The demo's records are demo data: each run starts from an empty SQLite file."""
    DEMO_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        DEMO_DATABASE.with_name(DEMO_DATABASE.name + suffix).unlink(missing_ok=True)
    return DEMO_DATABASE


async def _started(server_started: Callable[[], bool], task: asyncio.Task[None]) -> None:
    while not server_started():
        if task.done():
            task.result()  # raises the server's start-up error
            raise RuntimeError("the backend stopped during start-up")
        await asyncio.sleep(0.05)


async def _report_progress(
    redis: Redis, emit: Callable[[str], None], every_s: float, stop: asyncio.Event
) -> None:
    """One line per interval: clearances and the measured p95 wait per hall."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if stop.is_set():
            return
        parts = []
        for hall in Hall:
            counts = await read_clearance_counts(redis, hall)
            stats = await read_stats(redis, hall)
            p95 = f"{stats.p95_wait_s:.1f} s" if stats and stats.p95_wait_s is not None else "-"
            parts.append(
                f"{hall.value}: {counts.get('outcome:admit', 0)} admitted, "
                f"{counts.get('outcome:refer', 0)} referred, "
                f"{stats.waiting_now if stats else 0} waiting, p95 wait {p95}"
            )
        emit(" | ".join(parts))


async def _prepare_halls(
    options: DemoOptions, base_url: str, feed_tokens: Mapping[str, str]
) -> dict[Hall, HallCrowd]:
    """Each hall's crowd, its first travellers known in advance: the cruise groups' manifests
    and the visa holders' visas are sent to the backend before anyone arrives."""
    crowds: dict[Hall, HallCrowd] = {}
    manifests: list[dict[str, Any]] = []
    visas: list[dict[str, Any]] = []
    schedule: list[dict[str, Any]] = []
    ship_arrival = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    for hall in Hall:
        factory = TravellerFactory(seed=options.seed, hall=hall, faces_dir=options.faces_dir)
        preset = factory.generate(options.preset_travellers)
        if hall is Hall.CRUISE:
            manifests += cruise_manifests(preset, ship_arrival)
            schedule += hall_schedule(preset, [], ship_arrival, options.seed)
        else:
            visas += visa_entries(preset, factory.today)
            today = default_registry().flights_on(factory.today)
            schedule += hall_schedule(preset, today, ship_arrival, options.seed)
        crowds[hall] = HallCrowd(
            hall,
            PresetTravellers(preset, factory),
            rate_per_min=options.arrivals_per_min,
            speed=options.speed,
            seed=options.seed,
        )
    await post_feeds(base_url, feed_tokens, manifests, visas, schedule)
    log.info(
        "demo.feeds_posted", manifests=len(manifests), visas=len(visas), schedule=len(schedule)
    )
    return crowds


async def run_demo(
    options: DemoOptions,
    verifier: FaceVerifier,
    *,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[dict[str, str]], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    progress_every_s: float = 5.0,
) -> DemoSummary:
    """Run until ``duration_s`` passes or ``stop`` is set (SIGINT/SIGTERM set it too)."""
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    # The demo's ships dock minutes after their agencies file: no 24-hour lead time here.
    os.environ.setdefault("BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H", "0")
    overrides: dict[str, Any] = {"port": options.port, "log_level": options.log_level}
    if "BORDERGATE_DATABASE_URL" not in os.environ:
        overrides["database_url"] = f"sqlite:///{_fresh_demo_database()}"
    backend_settings = BackendSettings(**overrides)
    embedded = None if backend_settings.redis_url else new_embedded_server()
    redis = open_redis(backend_settings.redis_url, embedded)
    server = build_server(backend_settings, embedded_redis=embedded)
    server_task = asyncio.create_task(server.serve(), name="backend")
    await _started(lambda: server.started, server_task)
    port = server.servers[0].sockets[0].getsockname()[1] if options.port == 0 else options.port
    base = f"http://{backend_settings.host}:{port}"

    monitor = QueueMonitor(
        open_redis(backend_settings.redis_url, embedded),
        MonitorSettings(log_level=options.log_level, stats_interval_s=0.5),
    )
    parts_stop = asyncio.Event()
    lane_tasks: list[asyncio.Task[LaneStats]] = []
    other_tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(monitor.run(parts_stop), name="monitor")
    ]
    # Staff accounts with random passwords, a device token per kiosk (POST /v1/clearances
    # refuses kiosks without one) and a token per feed (manifests, visas, schedules).
    kiosk_lanes = [
        (hall.value, f"{LANE_PREFIX[hall]}{i}")
        for hall in Hall
        for i in range(1, options.kiosks_per_hall + 1)
    ]
    access = await to_thread.run_sync(
        prepare_demo_access, backend_settings.database_url, kiosk_lanes
    )
    crowds = await _prepare_halls(options, base, access.feeds)
    documents = simulated_documents(_fresh_folder(DEMO_MASTER_LIST))
    screens = ScreenHub()  # every kiosk's traveller page, from one server
    for hall, crowd in crowds.items():
        other_tasks.append(
            asyncio.create_task(crowd.run(parts_stop, on_entry=queue_joined_publisher(redis)))
        )
        for i in range(1, options.kiosks_per_hall + 1):
            kiosk_settings = KioskSettings(
                lane_id=f"{LANE_PREFIX[hall]}{i}",
                hall=hall,
                backend_url=base,
                speed=options.speed,
                seed=options.seed + i,
                device_token=SecretStr(access.tokens[(hall.value, f"{LANE_PREFIX[hall]}{i}")]),
                redis_url=backend_settings.redis_url,
                log_level=options.log_level,
            )
            screens.add_kiosk(kiosk_settings)
            lane_tasks.append(
                asyncio.create_task(
                    run_lane(
                        kiosk_settings,
                        redis,
                        crowd,
                        verifier,
                        parts_stop,
                        documents=documents,
                        observer=screens.observe,
                    )
                )
            )
    screen_server = contextlib.AsyncExitStack()
    screens_base = await screen_server.enter_async_context(
        serve_screens(screens, backend_settings.host, options.traveller_screen_port())
    )

    urls = {
        "officer console": f"{base}/console",
        "manager dashboard": f"{base}/dashboard",
        "backend API (OpenAPI)": f"{base}/docs",
        "health": f"{base}/readyz",
        "metrics": f"{base}/metrics",
        "sign in": f"{base}/login",
        "traveller pages": f"{screens_base}/lanes/",
        **{f"traveller page {lane}": f"{screens_base}/lanes/{lane}" for lane in screens.lanes},
    }
    if on_ready is not None:
        on_ready(
            {
                **urls,
                **{
                    f"  user {name}": f"password {password}"
                    for name, password in access.passwords.items()
                },
            }
        )
    progress = (
        asyncio.create_task(_report_progress(redis, on_progress, progress_every_s, parts_stop))
        if on_progress is not None
        else None
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration_s)

    parts_stop.set()
    lanes = await asyncio.gather(*lane_tasks)
    await screen_server.aclose()
    await asyncio.gather(*other_tasks)
    if progress is not None:
        await progress
    # Count the last events the kiosks published before stopping.
    await monitor.process_available()
    await monitor.publish_once()
    p95 = {
        hall.value: (s.p95_wait_s if (s := await read_stats(redis, hall)) else None)
        for hall in Hall
    }
    server.should_exit = True
    await server_task
    await monitor.redis.aclose()
    await redis.aclose()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)
    return DemoSummary(
        travellers=sum(s.completed for s in lanes),
        admitted=sum(s.admitted for s in lanes),
        referred=sum(s.referred for s in lanes),
        p95_wait_s=p95,
        urls=urls,
        users=access.passwords,
    )
