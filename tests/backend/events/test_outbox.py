"""The outbox: a clearance posted while Redis is down is kept and published once Redis is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import fakeredis
import pytest
from redis.asyncio import Redis

from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, decode_event
from bordergate.redis_conn import open_redis
from tests.backend.conftest import RedisProcess, clearance_body, make_settings, running
from tests.conftest import free_port

URL = "/v1/clearances"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_redis_outage_keeps_the_record_and_replay_publishes_once(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    settings = make_settings(tmp_path)
    async with running(settings, embedded_redis) as (app, client):
        reader = open_redis(None, embedded_redis)
        working = app.state.outbox.redis
        down = open_redis(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
        app.state.outbox.redis = down
        try:
            response = await client.post(URL, json=clearance_body())
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.2)  # several replay rounds fail meanwhile
            assert await reader.xlen(STREAM_CLEARANCES) == 0
            assert await asyncio.to_thread(app.state.records.count_pending) == 1
            assert app.state.metrics.outbox_pending._value.get() == 1

            app.state.outbox.redis = working  # Redis is back

            async def published() -> bool:
                return bool(await reader.xlen(STREAM_CLEARANCES) >= 1)

            await eventually(published)
            await asyncio.sleep(0.3)  # more replay rounds: nothing published twice
            entries = await reader.xrange(STREAM_CLEARANCES)
            assert len(entries) == 1
            event = decode_event(entries[0][1])
            assert isinstance(event, ClearanceOutcome)
            assert event.clearance_id == response.json()["clearance_id"]
            assert await asyncio.to_thread(app.state.records.count_pending) == 0
            assert app.state.metrics.outbox_pending._value.get() == 0
            assert app.state.metrics.outbox_publish_failures._value.get() >= 1
        finally:
            await down.aclose()
            await reader.aclose()


async def test_pending_rows_from_a_previous_run_are_published_at_start(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    settings = make_settings(tmp_path)
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    async with running(settings.model_copy(update={"redis_url": dead_url})) as (app, client):
        response = await client.post(URL, json=clearance_body())
        assert response.status_code == 200
        assert await asyncio.to_thread(app.state.records.count_pending) == 1
    # The next run (now with a reachable Redis) finds the pending row and publishes it.
    async with running(settings, embedded_redis) as (app, _client):
        reader = open_redis(None, embedded_redis)
        try:

            async def published() -> bool:
                return bool(await reader.xlen(STREAM_CLEARANCES) == 1)

            async def marked() -> bool:  # the row is marked just after the XADD
                return await asyncio.to_thread(app.state.records.count_pending) == 0

            await eventually(published)
            await eventually(marked)
            assert await reader.xlen(STREAM_CLEARANCES) == 1
        finally:
            await reader.aclose()


@pytest.mark.redis
async def test_real_redis_down_then_up(tmp_path: Path, redis_process: RedisProcess) -> None:
    """A real redis-server that is not running at first, then started (and stopped by PID)."""
    settings = make_settings(tmp_path, redis_url=redis_process.url)
    async with running(settings) as (app, client):
        assert (await client.get("/readyz")).status_code == 503
        response = await client.post(URL, json=clearance_body())
        assert response.status_code == 200, response.text
        assert await asyncio.to_thread(app.state.records.count_pending) == 1

        await asyncio.to_thread(redis_process.start)
        reader = Redis.from_url(redis_process.url, decode_responses=True)
        try:

            async def published() -> bool:
                return bool(await reader.xlen(STREAM_CLEARANCES) >= 1)

            await eventually(published, within=10)
            await asyncio.sleep(0.3)
            entries = await reader.xrange(STREAM_CLEARANCES)
            assert len(entries) == 1
            event = decode_event(entries[0][1])
            assert isinstance(event, ClearanceOutcome)
            assert event.clearance_id == response.json()["clearance_id"]
            assert await asyncio.to_thread(app.state.records.count_pending) == 0
            assert (await client.get("/readyz")).status_code == 200
        finally:
            await reader.aclose()
