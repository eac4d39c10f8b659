"""The dashboard's background loops and the hub that fans their messages out to the open pages.

Each backend worker runs the loops for itself (the backend is stateless, so any worker may serve
a dashboard); what they write to the records store is keyed so that several workers write it once:

- ``tail_alerts``: reads ``STREAM_ALERTS`` from 00:00 CST today on, keeps each alert
  (``dashboard_alerts``, once per event id) and pushes it to this worker's dashboards as soon as
  it is read (XREAD BLOCK: within milliseconds of the monitor's XADD). If the records store is
  down the alert is still pushed, and kept once the store is back (the read does not advance).
- ``relay_live``: forwards the monitor's ``CHANNEL_LIVE`` pushes (wait statistics, lane state,
  lane decisions) and acknowledgements made on any worker.
- ``sample_waits``: keeps each hall's ``WaitStats`` and open lanes once per sampling interval
  (``dashboard_wait_samples``, one row per hall and interval): the day's chart.
- ``refresh_forecasts``: recomputes each hall's forecast (``forecast``) and pushes it.

A loop never ends on an error: it logs it and tries again after a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from anyio import to_thread
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from backend.dashboard.forecast import forecast_hall, read_snapshot
from backend.dashboard.models import AlertView, HallForecast, WaitSample
from backend.dashboard.settings import DashboardSettings
from backend.dashboard.store import DashboardStore, day_bounds
from backend.policy.clock import cst_date
from backend.records.store import RecordsUnavailableError
from bordergate.contracts import CHANNEL_LIVE, STREAM_ALERTS, Alert, Hall, decode_event
from queue_monitor.control import LaneController, read_lanes
from queue_monitor.service import read_stats

log = structlog.get_logger(__name__)

# CHANNEL_LIVE kinds the dashboard relays (alerts come from the stream, not the channel).
RELAYED_KINDS = frozenset({"wait_stats", "lane_state", "lane_decision", "alert_ack"})
KIND_ALERT = "alert"
KIND_ALERT_ACK = "alert_ack"
KIND_FORECAST = "forecast"
BLOCK_MS = 1000  # under the client's 2 s socket timeout
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 5.0


def message(kind: str, data: Any) -> str:
    """One message to a dashboard: ``{"kind": ..., "data": ...}``."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return json.dumps({"kind": kind, "data": payload})


@dataclass(eq=False, slots=True)
class Client:
    """One open dashboard: its outgoing messages; ``dropped`` once it fell too far behind."""

    queue: asyncio.Queue[str]
    dropped: bool = False


@dataclass(slots=True)
class DashboardHub:
    """The dashboards open on this worker."""

    queue_size: int = 256
    clients: set[Client] = field(default_factory=set)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Client]:
        client = Client(asyncio.Queue(self.queue_size))
        self.clients.add(client)
        try:
            yield client
        finally:
            self.clients.discard(client)

    def broadcast(self, text: str) -> None:
        for client in list(self.clients):
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                # A page that cannot keep up is closed; it reconnects and gets a fresh state.
                client.dropped = True
                self.clients.discard(client)


class Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_START_S

    async def wait(self, what: str, exc: BaseException) -> None:
        log.warning("dashboard.loop_failed", loop=what, error=f"{type(exc).__name__}: {exc}"[:300])
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX_S)

    def reset(self) -> None:
        self.delay = BACKOFF_START_S


def stream_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREAD's reply for one stream as ``[(id, fields), ...]`` (RESP2 list or RESP3 dict)."""
    if not reply:
        return []
    items: Any = reply.items() if isinstance(reply, dict) else reply
    out: list[tuple[str, dict[str, str]]] = []
    for _stream, entries in items:
        if isinstance(entries, list) and entries and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 nests the entry list one level deeper
        out.extend((str(entry_id), dict(fields)) for entry_id, fields in entries or [])
    return out


def today_start(now: datetime | None = None) -> datetime:
    return day_bounds(cst_date(now or datetime.now(UTC)))[0]


def alert_from_event(alert: Alert) -> AlertView:
    """The dashboard's view of an alert not (yet) in the records store."""
    return AlertView(
        event_id=alert.event_id,
        hall=alert.hall,
        kind=alert.kind,
        severity=alert.severity,
        message=alert.message,
        data=alert.data,
        raised_at=alert.at,
    )


async def keep_alert(store: DashboardStore, alert: Alert, stream_id: str) -> AlertView:
    """Keep ``alert`` (once) and return it as stored, with any acknowledgement."""
    view = await to_thread.run_sync(store.record_alert, alert, stream_id)
    if view is None:  # kept before (by another worker, or before a restart)
        view = await to_thread.run_sync(store.alert, alert.event_id)
    return view if view is not None else alert_from_event(alert)


async def tail_alerts(
    redis: Redis,
    store: DashboardStore,
    hub: DashboardHub,
    *,
    start: datetime | None = None,
) -> None:
    """Keep and push every alert on ``STREAM_ALERTS`` from ``start`` (default 00:00 CST)."""
    since = start or today_start()
    last_id = f"{int(since.timestamp() * 1000)}-0"
    backoff = Backoff()
    pushed: str | None = None  # the entry pushed before its keeping failed (not pushed twice)
    while True:
        try:
            reply = await redis.xread({STREAM_ALERTS: last_id}, count=100, block=BLOCK_MS)
            for entry_id, fields in stream_entries(reply):
                try:
                    event = decode_event(fields)
                except (ValueError, ValidationError):
                    log.warning("dashboard.alert_unreadable", entry=entry_id)
                    last_id = entry_id
                    continue
                if not isinstance(event, Alert):
                    last_id = entry_id
                    continue
                try:
                    view = await keep_alert(store, event, entry_id)
                except RecordsUnavailableError:
                    if pushed != entry_id:
                        hub.broadcast(message(KIND_ALERT, alert_from_event(event)))
                        pushed = entry_id
                    raise
                hub.broadcast(message(KIND_ALERT, view))
                last_id = entry_id
            backoff.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await backoff.wait("tail_alerts", exc)


async def relay_live(redis: Redis, hub: DashboardHub) -> None:
    """Forward the relayed kinds of ``CHANNEL_LIVE`` to this worker's dashboards."""
    backoff = Backoff()
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL_LIVE)
            backoff.reset()
            while True:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "message":
                    continue
                raw = msg.get("data")
                try:
                    parsed = json.loads(raw) if isinstance(raw, str | bytes) else None
                except ValueError:
                    continue
                if isinstance(parsed, dict) and parsed.get("kind") in RELAYED_KINDS:
                    hub.broadcast(raw if isinstance(raw, str) else raw.decode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await backoff.wait("relay_live", exc)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


def open_lanes(lanes: dict[str, Any]) -> tuple[int, int]:
    """E-gates and officer lanes serving now (open, or closing: finishing a traveller)."""
    egates = officers = 0
    for lane in lanes.values():
        if lane.status in ("open", "closing"):
            if lane.lane_type == "egate":
                egates += 1
            else:
                officers += 1
    return egates, officers


async def sample_once(
    redis: Redis,
    store: DashboardStore,
    settings: DashboardSettings,
    now: datetime | None = None,
) -> list[WaitSample]:
    """Keep each hall's current statistics for the interval ``now`` falls in; returns the
    samples this call kept (a hall already sampled for the interval, or without fresh
    statistics, is left out)."""
    now = now or datetime.now(UTC)
    interval = settings.dashboard_sample_interval_s
    bucket = datetime.fromtimestamp(now.timestamp() // interval * interval, UTC)
    kept: list[WaitSample] = []
    for hall in Hall:
        stats = await read_stats(redis, hall)
        if stats is None or now - stats.updated_at > timedelta(
            seconds=settings.dashboard_stale_after_s
        ):
            continue
        egates, officers = open_lanes(await read_lanes(redis, hall))
        sample = WaitSample(
            hall=hall,
            at=bucket,
            stats_at=stats.updated_at,
            samples=stats.samples,
            p95_wait_s=stats.p95_wait_s,
            mean_wait_s=stats.mean_wait_s,
            share_within_target=stats.share_within_target,
            target_s=stats.target_s,
            waiting_now=stats.waiting_now,
            egates_open=egates,
            officer_lanes_open=officers,
        )
        if await to_thread.run_sync(store.add_sample, sample):
            kept.append(sample)
    return kept


async def sample_waits(redis: Redis, store: DashboardStore, settings: DashboardSettings) -> None:
    """``sample_once`` at the start of every interval (and once at start-up)."""
    interval = settings.dashboard_sample_interval_s
    backoff = Backoff()
    while True:
        try:
            await sample_once(redis, store, settings)
            backoff.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await backoff.wait("sample_waits", exc)
            continue
        now = datetime.now(UTC).timestamp()
        # A little past the boundary, so the monitor's statistics for it are out.
        await asyncio.sleep(interval - now % interval + min(1.0, interval / 10))


async def forecast_once(
    redis: Redis,
    controller: LaneController,
    settings: DashboardSettings,
    now: datetime | None = None,
) -> list[HallForecast]:
    """Every hall's forecast now (the projection runs in a worker thread)."""
    now = now or datetime.now(UTC)
    out: list[HallForecast] = []
    for hall in Hall:
        snapshot = await read_snapshot(redis, controller, hall, now)
        out.append(
            await to_thread.run_sync(
                forecast_hall, snapshot, controller.config, settings.dashboard_forecast_bucket_min
            )
        )
    return out


async def refresh_forecasts(
    redis: Redis,
    controller: LaneController,
    settings: DashboardSettings,
    hub: DashboardHub,
    latest: dict[Hall, HallForecast],
) -> None:
    """Recompute the forecasts every interval, keep them in ``latest`` and push them."""
    backoff = Backoff()
    while True:
        try:
            for forecast in await forecast_once(redis, controller, settings):
                latest[forecast.hall] = forecast
                hub.broadcast(message(KIND_FORECAST, forecast))
            backoff.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await backoff.wait("refresh_forecasts", exc)
            continue
        await asyncio.sleep(settings.dashboard_forecast_interval_s)
