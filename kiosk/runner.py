"""Run one e-gate lane: take travellers from the hall queue, run a session for each, report.

Wiring (the CLI and the demo):

* one kiosk process, its own travellers (``bordergate kiosk --lane ID``)::

      stats = await run_kiosk_process(KioskSettings(lane_id="A1"), verifier)

* several kiosks of one hall sharing one queue (the demo)::

      crowd = HallCrowd(Hall.AIRPORT, TravellerFactory(seed=1, hall=Hall.AIRPORT),
                        rate_per_min=6, speed=speed, seed=1)
      async with asyncio.TaskGroup() as tg:
          tg.create_task(crowd.run(stop, on_entry=queue_joined_publisher(redis)))
          for lane in ("A1", "A2"):
              s = KioskSettings(lane_id=lane, hall=Hall.AIRPORT, speed=speed)
              tg.create_task(run_lane(s, redis, crowd, verifier, stop))

Redis failures are logged and counted, never fatal, and never open a gate.

Before its first traveller, and after any session that met a device fault or left the gate
unconfirmed, a lane checks its devices (``kiosk.lane_health``): a device that stays down puts the
lane out of service (no travellers, heartbeat ``error``, a critical alert) until it answers again.
A standalone kiosk (``run_kiosk_process``) keeps an in-progress marker per transaction and, when it
starts, reports a transaction its previous run left unfinished as abandoned
(``kiosk.transaction_marker``).
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from redis.asyncio import Redis

from bordergate.contracts import (
    STREAM_ALERTS,
    STREAM_QUEUE,
    Alert,
    DeviceHeartbeat,
    Event,
    Outcome,
    QueueJoined,
    QueueServed,
    encode_event,
    heartbeat_key,
)
from bordergate.redis_conn import open_redis
from hardware_mocks.chip import MockPKI
from hardware_mocks.crowd import EntryHandler, HallCrowd
from hardware_mocks.interfaces import EntryEvent
from hardware_mocks.lane import MockLane
from hardware_mocks.queue_counter import MockQueueCounter
from hardware_mocks.travellers import NATIONALITIES, TravellerFactory, default_faces_dir
from kiosk.backend_client import BackendClient
from kiosk.biometrics import FaceVerifier
from kiosk.chip import MasterList
from kiosk.event_spool import EventSpool, xadd_event
from kiosk.lane_health import LaneHealth, ensure_in_service
from kiosk.session import KioskSession, SessionObserver, SessionResult, SessionUpdate
from kiosk.settings import KioskSettings
from kiosk.transaction_marker import MarkerFile

log = structlog.get_logger(__name__)


@dataclass
class LaneStats:
    lane_id: str
    served: int = 0
    admitted: int = 0
    referred: int = 0
    passed_gate: int = 0
    aborted: int = 0
    """Sessions cut short by the stop event."""
    errors: int = 0
    """Sessions that crashed (a bug; the gate was kept closed)."""
    publish_failures: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    session_seconds: float = 0.0
    device_faults: Counter[str] = field(default_factory=Counter)
    """Sessions ended by a fault of each device (``gate`` also for a gate left unconfirmed)."""
    out_of_service: int = 0
    """Times the lane went out of service (a device stayed down)."""

    def record(self, result: SessionResult) -> None:
        if result.outcome is Outcome.ADMIT:
            self.admitted += 1
        else:
            self.referred += 1
        self.passed_gate += int(result.passed_gate)
        self.reasons.update(r.value for r in result.reasons)
        self.session_seconds += result.total_s
        if result.device_fault is not None:
            self.device_faults[result.device_fault] += 1

    @property
    def completed(self) -> int:
        return self.admitted + self.referred

    @property
    def mean_session_s(self) -> float | None:
        return self.session_seconds / self.completed if self.completed else None


@dataclass(frozen=True)
class SimulatedDocuments:
    """The simulation's document PKI: it issues the chips; the kiosks trust its CSCAs."""

    pki: MockPKI
    master_list: MasterList


def simulated_documents(folder: Path, seed: str = "bordergate-demo-pki") -> SimulatedDocuments:
    """A test PKI for every issuing state of the synthetic population, its CSCAs written to
    ``folder`` as the master list the kiosks load (as a real kiosk loads the ICAO list)."""
    pki = MockPKI(seed)
    pki.write_master_list(folder, NATIONALITIES)
    return SimulatedDocuments(pki=pki, master_list=MasterList.load(folder))


def fan_out(*observers: SessionObserver | None) -> SessionObserver | None:
    """One observer calling each given one in turn (None: no observer at all).

    Each is called even if an earlier one raised; the first error is re-raised after, for the
    session to log (a broken screen must not starve the others)."""
    chosen = [o for o in observers if o is not None]
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]

    def observe(update: SessionUpdate) -> None:
        errors: list[Exception] = []
        for observer in chosen:
            try:
                observer(update)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    return observe


async def publish_event(
    redis: Redis, event: Event, timeout_s: float = 1.0, stream: str = STREAM_QUEUE
) -> bool:
    """XADD one event now (no spool); False (logged) on any failure."""
    return await xadd_event(redis, stream, encode_event(event), timeout_s)


def queue_joined_publisher(
    redis: Redis,
    timeout_s: float = 1.0,
    stats: LaneStats | None = None,
    spool: EventSpool | None = None,
) -> EntryHandler:
    """A crowd ``on_entry`` handler publishing ``QueueJoined`` for each counter entry (kept in
    ``spool`` for later when Redis fails)."""

    async def on_entry(entry: EntryEvent) -> None:
        event = QueueJoined(
            hall=entry.hall,
            traveller_ref=entry.traveller_ref,
            counter_id=entry.counter_id,
            at=entry.at,
        )
        published = (
            await spool.publish(event, STREAM_QUEUE)
            if spool is not None
            else await publish_event(redis, event, timeout_s)
        )
        if not published and stats is not None:
            stats.publish_failures += 1

    return on_entry


async def _beat(redis: Redis, settings: KioskSettings, health: LaneHealth) -> None:
    """Write the lane's heartbeat (``error`` with the failing devices when out of service)."""
    beat = DeviceHeartbeat(
        kind="kiosk",
        device_id=settings.lane_id,
        lane_id=settings.lane_id,
        status=health.status,
        detail=health.detail[:300],
    )
    key = heartbeat_key("kiosk", settings.lane_id)
    try:
        async with asyncio.timeout(settings.redis_timeout_s):
            await redis.set(key, beat.model_dump_json(), ex=settings.heartbeat_ttl_s)
    except Exception as exc:
        log.warning("heartbeat failed", lane_id=settings.lane_id, error=type(exc).__name__)


async def _heartbeat(
    redis: Redis, settings: KioskSettings, stop: asyncio.Event, health: LaneHealth
) -> None:
    while not stop.is_set():
        await _beat(redis, settings, health)
        try:
            async with asyncio.timeout(settings.heartbeat_interval_s):
                await stop.wait()
        except TimeoutError:
            pass


def make_own_crowd(settings: KioskSettings, max_travellers: int | None = None) -> HallCrowd:
    """The crowd of a standalone kiosk: its own seeded arrivals through its own counter."""
    factory = TravellerFactory(
        seed=settings.seed,
        hall=settings.hall,
        faces_dir=settings.faces_dir if settings.faces_dir is not None else default_faces_dir(),
    )
    return HallCrowd(
        settings.hall,
        factory,
        rate_per_min=settings.arrival_rate_per_min,
        speed=settings.speed,
        seed=settings.seed,
        counter=MockQueueCounter(f"{settings.lane_id}-entrance", settings.hall),
        max_travellers=max_travellers,
    )


async def run_lane(
    settings: KioskSettings,
    redis: Redis,
    crowd: HallCrowd | None,
    verifier: FaceVerifier,
    stop: asyncio.Event,
    *,
    lane: MockLane | None = None,
    backend: BackendClient | None = None,
    observer: SessionObserver | None = None,
    on_result: Callable[[SessionResult], None] | None = None,
    max_travellers: int | None = None,
    documents: SimulatedDocuments | None = None,
    marker: MarkerFile | None = None,
    spool_file: Path | None = None,
) -> LaneStats:
    """Serve travellers until ``stop`` is set (or ``max_travellers`` were served).

    Queue events and alerts Redis does not take are kept and replayed (in ``spool_file`` too,
    if given, so they outlive the process).

    ``marker``: keep each transaction's in-progress marker there, and first report any
    transaction a previous run left unfinished (abandoned).

    ``documents`` gives the simulated passports their chips and the kiosk its master list;
    without it documents carry no chip and every traveller is referred (chip-unreadable).

    ``crowd=None`` gives the lane its own crowd (arrivals publishing ``QueueJoined``); a shared
    crowd's arrivals are run by whoever owns it. ``lane`` and ``backend`` default to mock devices
    at ``settings.speed`` and a client for ``settings.backend_url``.
    """
    stats = LaneStats(lane_id=settings.lane_id)
    lane = (
        lane
        if lane is not None
        else MockLane(
            settings.lane_id,
            speed=settings.speed,
            seed=settings.seed,
            pki=documents.pki if documents else None,
        )
    )
    own_backend = backend is None
    client = (
        backend
        if backend is not None
        else BackendClient(
            settings.backend_url,
            settings.backend_timeout_s,
            device_token=(
                settings.device_token.get_secret_value() if settings.device_token else None
            ),
        )
    )
    own_crowd = crowd is None
    hall_crowd = crowd if crowd is not None else make_own_crowd(settings, max_travellers)
    helpers_stop = asyncio.Event()
    health = LaneHealth()
    spool = EventSpool(redis, timeout_s=settings.redis_timeout_s, path=spool_file)
    log.info("lane started", lane_id=settings.lane_id, hall=settings.hall.value)
    if marker is not None:
        marker.adopt_leftover(settings.hall)
        await marker.report_abandoned(client)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_heartbeat(redis, settings, helpers_stop, health))
            tg.create_task(spool.run(helpers_stop))
            if own_crowd:
                tg.create_task(
                    hall_crowd.run(
                        helpers_stop,
                        on_entry=queue_joined_publisher(
                            redis, settings.redis_timeout_s, stats, spool
                        ),
                    )
                )
            try:
                await _serve(settings, redis, hall_crowd, lane, client, verifier, stop, stats,
                             observer, on_result, max_travellers,
                             documents.master_list if documents else None,
                             health, marker, spool)  # fmt: skip
            finally:
                helpers_stop.set()
    finally:
        lane.clear()
        if own_backend:
            await client.aclose()
        try:
            async with asyncio.timeout(settings.redis_timeout_s):
                await redis.delete(heartbeat_key("kiosk", settings.lane_id))
        except Exception as exc:
            log.warning("heartbeat removal failed", error=type(exc).__name__)
    log.info(
        "lane stopped",
        lane_id=settings.lane_id,
        served=stats.served,
        admitted=stats.admitted,
        referred=stats.referred,
    )
    return stats


async def _serve(
    settings: KioskSettings,
    redis: Redis,
    crowd: HallCrowd,
    lane: MockLane,
    backend: BackendClient,
    verifier: FaceVerifier,
    stop: asyncio.Event,
    stats: LaneStats,
    observer: SessionObserver | None,
    on_result: Callable[[SessionResult], None] | None,
    max_travellers: int | None,
    master_list: MasterList | None,
    health: LaneHealth,
    marker: MarkerFile | None,
    spool: EventSpool,
) -> None:
    async def on_change(alert: Alert) -> None:
        if not health.in_service:
            stats.out_of_service += 1
        if not await spool.publish(alert, STREAM_ALERTS):
            stats.publish_failures += 1
        await _beat(redis, settings, health)

    while not stop.is_set():
        if max_travellers is not None and stats.served >= max_travellers:
            return
        # A lane whose device stays down takes nobody (the hall's queue goes to other lanes).
        if not await ensure_in_service(lane.devices, settings, health, stop, on_change):
            return
        if marker is not None and marker.abandoned():
            await marker.report_abandoned(backend)
        traveller = await crowd.next_traveller(settings.idle_poll_s)
        if traveller is None:
            continue
        stats.served += 1
        served = QueueServed(
            hall=settings.hall, traveller_ref=traveller.traveller_ref, lane_id=settings.lane_id
        )
        if not await spool.publish(served, STREAM_QUEUE):
            stats.publish_failures += 1
        lane.present(traveller)
        session = KioskSession(
            settings,
            lane.devices,
            backend,
            verifier,
            # The traveller at the camera sees the screen's prompts, as the screen does.
            observer=fan_out(lane.observe, observer),
            traveller_ref=traveller.traveller_ref,
            master_list=master_list,
            marker=marker,
        )
        session_task = asyncio.create_task(session.run(), name=f"session-{settings.lane_id}")
        stop_task = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({session_task, stop_task}, return_when="FIRST_COMPLETED")
        finally:
            stop_task.cancel()
            if not session_task.done():
                session_task.cancel()
            await asyncio.wait({session_task, stop_task})
            lane.clear()
        if session_task.cancelled():
            stats.aborted += 1
            return
        exc = session_task.exception()
        if exc is not None:
            stats.errors += 1
            health.needs_check = True
            log.error("session crashed", lane_id=settings.lane_id, error=repr(exc))
            continue
        result = session_task.result()
        stats.record(result)
        if result.device_fault is not None or not result.gate_secured:
            health.needs_check = True
        if on_result is not None:
            on_result(result)


async def run_kiosk_process(
    settings: KioskSettings,
    verifier: FaceVerifier,
    *,
    stop: asyncio.Event | None = None,
    max_travellers: int | None = None,
    observer: SessionObserver | None = None,
) -> LaneStats:
    """A standalone kiosk: its own Redis client (``settings.redis_url``), its own crowd.

    SIGINT / SIGTERM set the stop event (where the platform allows signal handlers). The
    transaction marker and the mock gate's door state live in ``settings.state_dir``: the
    simulated gate outlives the kiosk process, as a real one does.
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    redis = open_redis(settings.redis_url)
    try:
        with tempfile.TemporaryDirectory(prefix="bordergate-master-list-") as folder:
            documents = simulated_documents(Path(folder))
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            lane = MockLane(
                settings.lane_id,
                speed=settings.speed,
                seed=settings.seed,
                pki=documents.pki,
                gate_state_file=settings.state_dir / f"{settings.lane_id}.mock-gate.json",
            )
            return await run_lane(
                settings, redis, None, verifier, stop, lane=lane,
                max_travellers=max_travellers, documents=documents, observer=observer,
                marker=MarkerFile(settings.state_dir, settings.lane_id),
                spool_file=settings.state_dir / f"{settings.lane_id}.events.jsonl",
            )  # fmt: skip
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await redis.aclose()
