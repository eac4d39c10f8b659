"""The queue monitor service: consume events, publish wait statistics and a heartbeat.

``QueueMonitor(redis, settings).run(stop)`` runs three loops until ``stop`` is set:

- consume: read the streams through the group and apply each event to the shared state
  (``consumer`` / ``store``);
- publish: every ``stats_interval_s``, for each hall compute ``WaitStats`` from the shared
  samples, SET it at ``wait_stats_key(hall)`` and PUBLISH ``{"kind": "wait_stats", "data": ...}``
  on ``CHANNEL_LIVE``; and SET the monitor's ``DeviceHeartbeat`` with a TTL;
- control (``control_enabled``): every ``decision_interval_s``, the lane controller
  (``queue_monitor.control.LaneController``) decides the lanes of each hall whose lease this
  monitor holds, and publishes lane commands, alerts and the decision summary.

Every monitor publishes the same numbers (they read the same shared samples), so running several
is harmless; per hall only the lease holder issues lane commands and alerts. A Redis error is
logged and retried with exponential back-off; no loop ends before ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis

from bordergate.contracts import (
    CHANNEL_LIVE,
    DeviceHeartbeat,
    Hall,
    WaitStats,
    heartbeat_key,
    wait_stats_key,
)
from bordergate.logging import configure_logging
from bordergate.redis_conn import open_redis
from queue_monitor.consumer import StreamConsumer
from queue_monitor.control import HallOutcome, LaneController
from queue_monitor.settings import MonitorSettings
from queue_monitor.store import SharedWaitState

log = structlog.get_logger("queue_monitor.service")

LIVE_KIND_WAIT_STATS = "wait_stats"
_BACKOFF_START_S = 0.05


async def read_stats(redis: Redis, hall: Hall) -> WaitStats | None:
    """The latest published ``WaitStats`` of ``hall``, or None if none (or unreadable)."""
    raw: str | bytes | None = await redis.get(wait_stats_key(hall))
    if raw is None:
        return None
    try:
        return WaitStats.model_validate_json(raw)
    except ValueError:
        log.warning("wait_stats_unreadable", hall=str(hall))
        return None


def live_envelope(stats: WaitStats) -> str:
    """The JSON pushed on ``CHANNEL_LIVE`` for one hall's statistics."""
    return json.dumps({"kind": LIVE_KIND_WAIT_STATS, "data": stats.model_dump(mode="json")})


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, returning early when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class QueueMonitor:
    """One queue-monitor process's worth of work; several may share the consumer group."""

    def __init__(self, redis: Redis, settings: MonitorSettings) -> None:
        self.redis = redis
        self.settings = settings
        self.state = SharedWaitState(redis, settings)
        self.consumer = StreamConsumer(redis, settings, self.state)
        self.controller = LaneController(redis, settings, self.state)
        self._last_error: str | None = None

    @property
    def name(self) -> str:
        return self.settings.consumer_name

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and publish until ``stop`` is set; returns within about ``block_ms``."""
        log.info("monitor_started", consumer=self.name)
        loops = [self._consume_loop(stop), self._publish_loop(stop)]
        if self.settings.control_enabled:
            loops.append(self._control_loop(stop))
        try:
            await asyncio.gather(*loops)
        finally:
            with contextlib.suppress(Exception):  # best effort: the TTL removes it anyway
                await self.redis.delete(heartbeat_key("monitor", self.name))
            with contextlib.suppress(Exception):  # best effort: the leases expire anyway
                await self.controller.release_leases()
            log.info("monitor_stopped", consumer=self.name, counts=dict(self.consumer.counts))

    async def process_available(self) -> int:
        """Handle everything readable now without blocking (tests, replays); returns the count."""
        total = 0
        while handled := await self.consumer.poll(block_ms=None):
            total += handled
        return total

    async def publish_once(self, now: datetime | None = None) -> list[WaitStats]:
        """Compute, store and push every hall's statistics, and refresh the heartbeat."""
        now = now or datetime.now(UTC)
        published: list[WaitStats] = []
        for hall in Hall:
            stats = await self.state.compute_stats(hall, now)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(wait_stats_key(hall), stats.model_dump_json())
                pipe.publish(CHANNEL_LIVE, live_envelope(stats))
                await pipe.execute()
            published.append(stats)
        await self.heartbeat()
        return published

    async def control_once(self, now: datetime | None = None) -> list[HallOutcome]:
        """One lane-control decision for every hall whose lease this monitor holds or takes."""
        return await self.controller.step(now)

    async def heartbeat(self) -> None:
        beat = DeviceHeartbeat(
            kind="monitor",
            device_id=self.name,
            status="degraded" if self._last_error else "ok",
            detail=self._last_error or "",
        )
        await self.redis.set(
            heartbeat_key("monitor", self.name),
            beat.model_dump_json(),
            ex=self.settings.heartbeat_ttl_s,
        )

    async def _consume_loop(self, stop: asyncio.Event) -> None:
        backoff = _BACKOFF_START_S
        while not stop.is_set():
            try:
                await self.consumer.poll(block_ms=self.settings.block_ms)
            except Exception as exc:  # Redis down, a conflict storm, a bug: never end the loop
                self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("consume_failed", error=self._last_error, retry_in_s=backoff)
                self.consumer.reset()
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.settings.backoff_max_s)
            else:
                backoff = _BACKOFF_START_S
                self._last_error = None

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        backoff = _BACKOFF_START_S
        while not stop.is_set():
            delay = self.settings.stats_interval_s
            try:
                await self.publish_once()
            except Exception as exc:
                log.warning("publish_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                delay = max(backoff, delay)
                backoff = min(backoff * 2, self.settings.backoff_max_s)
            else:
                backoff = _BACKOFF_START_S
            await _sleep_or_stop(stop, delay)

    async def _control_loop(self, stop: asyncio.Event) -> None:
        backoff = _BACKOFF_START_S
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self.control_once()
            except Exception as exc:  # Redis down, a bug: log, back off, never end the loop
                log.warning("control_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                delay = min(backoff, self.settings.decision_interval_s)
                backoff = min(backoff * 2, self.settings.backoff_max_s)
            else:
                backoff = _BACKOFF_START_S
                delay = max(0.0, self.settings.decision_interval_s - (loop.time() - started))
            await _sleep_or_stop(stop, delay)


async def serve(settings: MonitorSettings | None = None, redis: Redis | None = None) -> None:
    """Run one monitor until SIGINT/SIGTERM (for ``bordergate monitor``)."""
    settings = settings or MonitorSettings()
    configure_logging(settings.log_level, settings.log_json)
    client = redis if redis is not None else open_redis(settings.redis_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await QueueMonitor(client, settings).run(stop)
    finally:
        if redis is None:
            await client.aclose()


def main() -> None:
    asyncio.run(serve())
