"""The kiosk is answered once its decision is committed; the event's publish follows the answer,
and the rows published meanwhile are marked in one write (a group commit)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from anyio import to_thread
from redis.asyncio import Redis

from backend.events.outbox import OutboxPublisher
from backend.metrics import BackendMetrics
from backend.records.store import RecordsStore
from backend.server import build_server
from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, decode_event
from bordergate.redis_conn import open_redis
from tests.auth_helpers import register_device_for
from tests.backend.conftest import RedisProcess, clearance_body, make_settings, running
from tests.backend.events.test_outbox import eventually
from tests.conftest import free_port

URL = "/v1/clearances"


@pytest.mark.redis
async def test_a_hung_redis_does_not_hold_the_answer(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    """Redis stopped (SIGSTOP: connections open, nothing answers) while uvicorn serves: the kiosk
    gets its decision at once, not after the publish's 1 s timeout; the event is published once
    when Redis answers again."""
    redis_process.start()
    assert redis_process.proc is not None
    port = free_port()
    settings = make_settings(
        tmp_path, port=port, redis_url=redis_process.url, publish_timeout_s=1.0
    )
    token = register_device_for(settings.database_url, "airport", "A-01")
    server = build_server(settings, configure_logs=False)
    task = asyncio.create_task(server.serve())
    reader = Redis.from_url(redis_process.url, decode_responses=True)
    stopped = False
    try:
        while not server.started:
            assert not task.done(), "the server stopped during start-up"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as client:
            warm = await client.post(URL, json=clearance_body())
            assert warm.status_code == 200, warm.text
            os.kill(redis_process.proc.pid, signal.SIGSTOP)
            stopped = True
            started = time.perf_counter()
            response = await client.post(URL, json=clearance_body())
            answered_s = time.perf_counter() - started
            assert response.status_code == 200, response.text
            assert answered_s < 0.5, f"the answer waited {answered_s:.2f} s for Redis"
            await asyncio.sleep(1.2)  # the publish times out meanwhile: the row stays pending
            os.kill(redis_process.proc.pid, signal.SIGCONT)
            stopped = False

            async def both_published() -> bool:
                return bool(await reader.xlen(STREAM_CLEARANCES) >= 2)

            await eventually(both_published, within=10)
            await asyncio.sleep(0.3)  # more replay rounds: nothing added twice
            entries = await reader.xrange(STREAM_CLEARANCES)
            ids = [decode_event(fields) for _, fields in entries]
            assert all(isinstance(e, ClearanceOutcome) for e in ids)
            clearance_ids = [e.clearance_id for e in ids if isinstance(e, ClearanceOutcome)]
            assert sorted(clearance_ids) == sorted(
                [warm.json()["clearance_id"], response.json()["clearance_id"]]
            )
    finally:
        if stopped:
            os.kill(redis_process.proc.pid, signal.SIGCONT)
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await reader.aclose()


class CountingStore(RecordsStore):
    """Counts the mark transactions and makes each take a while (a busy database)."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.mark_batches: list[int] = []

    def mark_published(self, ids: Any, at: Any) -> None:
        self.mark_batches.append(len(ids))
        time.sleep(0.05)
        super().mark_published(ids, at)


async def test_rows_published_together_are_marked_in_one_write(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running(settings) as (_app, client):  # Redis down: the rows stay pending
        for _ in range(12):
            assert (await client.post(URL, json=clearance_body())).status_code == 200
    store = CountingStore(settings.database_url)
    working = open_redis(None, embedded_redis)
    metrics = BackendMetrics()
    publisher = OutboxPublisher(working, store, metrics, grace_s=0.0)
    try:
        rows = await to_thread.run_sync(store.pending_events, 100, None)
        assert len(rows) == 12
        metrics.outbox_pending.set(12)
        results = await asyncio.gather(
            *(publisher.publish_now(r.id, r.stream, r.fields, r.event_id) for r in rows)
        )
        assert results == [True] * 12
        # Every call returned after its own row was written, and the writes were shared.
        assert await to_thread.run_sync(store.count_pending) == 0
        assert sum(store.mark_batches) == 12
        assert len(store.mark_batches) < 12, store.mark_batches
        assert metrics.outbox_pending._value.get() == 0
        assert await working.xlen(STREAM_CLEARANCES) == 12
    finally:
        await working.aclose()
        store.dispose()
