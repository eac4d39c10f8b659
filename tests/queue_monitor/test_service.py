"""The QueueMonitor service loop on fakeredis: publishing, heartbeat, stopping, Redis outages."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import timedelta

import fakeredis
import pytest
from redis.asyncio import Redis

from bordergate.contracts import (
    CHANNEL_LIVE,
    DeviceHeartbeat,
    Hall,
    WaitStats,
    heartbeat_key,
    wait_stats_key,
)
from queue_monitor import MonitorSettings, QueueMonitor, read_stats
from queue_monitor.service import live_envelope
from tests.queue_monitor.factories import T0, add, eventually, fast_settings, joined, served


async def test_run_publishes_stats_and_heartbeat_and_stops_promptly(redis: Redis) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL_LIVE)
    monitor = QueueMonitor(redis, fast_settings("svc"))
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        await add(redis, joined("ann", T0))
        await add(redis, served("ann", T0 + timedelta(seconds=321)))

        async def published() -> bool:
            stats = await read_stats(redis, Hall.AIRPORT)
            return stats is not None and stats.samples == 1

        await eventually(published)
        stats = await read_stats(redis, Hall.AIRPORT)
        assert stats is not None
        assert stats.p95_wait_s == 321.0
        cruise = await read_stats(redis, Hall.CRUISE)
        assert cruise is not None
        assert cruise.samples == 0

        raw = await redis.get(heartbeat_key("monitor", "svc"))
        assert raw is not None
        beat = DeviceHeartbeat.model_validate_json(raw)
        assert (beat.kind, beat.device_id, beat.status) == ("monitor", "svc", "ok")
        assert 0 < await redis.ttl(heartbeat_key("monitor", "svc")) <= 5

        seen: set[str] = set()
        deadline = time.monotonic() + 5
        while seen != {"airport", "cruise"} and time.monotonic() < deadline:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if msg is not None:
                envelope = json.loads(msg["data"])
                assert envelope["kind"] == "wait_stats"
                seen.add(WaitStats.model_validate(envelope["data"]).hall)
        assert seen == {"airport", "cruise"}
    finally:
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, timeout=2)
        assert time.monotonic() - started < 1.0
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert await redis.get(heartbeat_key("monitor", "svc")) is None  # removed on a clean stop


async def test_stop_is_prompt_with_default_block(redis: Redis) -> None:
    monitor = QueueMonitor(redis, MonitorSettings(consumer_name="slow"))  # block 500 ms, 1 s stats
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert time.monotonic() - started < 1.0


async def test_survives_redis_outage(redis: Redis, embedded_redis: fakeredis.FakeServer) -> None:
    monitor = QueueMonitor(redis, fast_settings("brave"))
    stop = asyncio.Event()
    embedded_redis.connected = False  # every command now fails with ConnectionError
    task = asyncio.create_task(monitor.run(stop))
    try:
        await asyncio.sleep(0.5)
        assert not task.done()
        embedded_redis.connected = True
        await add(redis, joined("ben", T0))
        await add(redis, served("ben", T0 + timedelta(seconds=77)))

        async def recovered() -> bool:
            stats = await read_stats(redis, Hall.AIRPORT)
            return stats is not None and stats.samples == 1

        await eventually(recovered)
        embedded_redis.connected = False  # and a second outage in the middle of running
        await asyncio.sleep(0.3)
        assert not task.done()
        embedded_redis.connected = True
        await add(redis, joined("cy", T0))
        await add(redis, served("cy", T0 + timedelta(seconds=99)))

        async def recovered_again() -> bool:
            stats = await read_stats(redis, Hall.AIRPORT)
            return stats is not None and stats.samples == 2

        await eventually(recovered_again)
        stats = await read_stats(redis, Hall.AIRPORT)
        assert stats is not None
        assert stats.p95_wait_s == 99.0
    finally:
        embedded_redis.connected = True
        stop.set()
        await asyncio.wait_for(task, timeout=2)


async def test_heartbeat_reports_degraded_after_error(redis: Redis) -> None:
    monitor = QueueMonitor(redis, fast_settings("hb"))
    monitor._last_error = "ConnectionError: down"
    await monitor.heartbeat()
    raw = await redis.get(heartbeat_key("monitor", "hb"))
    assert raw is not None
    beat = DeviceHeartbeat.model_validate_json(raw)
    assert (beat.status, beat.detail) == ("degraded", "ConnectionError: down")


async def test_read_stats_missing_or_unreadable(redis: Redis) -> None:
    assert await read_stats(redis, Hall.CRUISE) is None
    await redis.set(wait_stats_key(Hall.CRUISE), "{garbage")
    assert await read_stats(redis, Hall.CRUISE) is None


async def test_publish_once_round_trips(redis: Redis) -> None:
    monitor = QueueMonitor(redis, fast_settings("p"))
    await monitor.state.apply(joined("dee", T0))
    published = await monitor.publish_once()
    assert [s.hall for s in published] == [Hall.AIRPORT, Hall.CRUISE]
    assert await read_stats(redis, Hall.AIRPORT) == published[0]
    assert published[0].waiting_now == 1
    envelope = json.loads(live_envelope(published[0]))
    assert envelope["kind"] == "wait_stats"
    assert WaitStats.model_validate(envelope["data"]) == published[0]


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BORDERGATE_MONITOR_CONSUMER_NAME", "env-monitor")
    monkeypatch.setenv("BORDERGATE_MONITOR_WINDOW_S", "1800")
    monkeypatch.setenv("BORDERGATE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/0")
    s = MonitorSettings()
    assert (s.consumer_name, s.window_s, s.log_level) == ("env-monitor", 1800.0, "DEBUG")
    assert s.redis_url == "redis://example:6379/0"


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BORDERGATE_MONITOR_CONSUMER_NAME", "BORDERGATE_MONITOR_WINDOW_S"):
        monkeypatch.delenv(var, raising=False)
    s = MonitorSettings()
    assert s.target_wait_s == 1500.0
    assert s.window_s == 3600.0
    assert s.stats_interval_s == 1.0
    assert s.consumer_name.endswith(f"-{os.getpid()}")
    with pytest.raises(ValueError, match="block_ms"):
        MonitorSettings(block_ms=5000)
