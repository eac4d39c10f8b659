"""The outbox adds each event to the stream once: a publish whose answer was lost is not repeated,
and two workers replaying the same pending rows add each once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any, cast

import fakeredis
from anyio import to_thread

from backend.events.outbox import OutboxPublisher
from backend.metrics import BackendMetrics
from backend.records.store import RecordsStore
from bordergate.contracts import STREAM_CLEARANCES, decode_event, outbox_sent_key
from bordergate.redis_conn import open_redis
from tests.backend.conftest import clearance_body, make_settings, running
from tests.conftest import free_port

ROWS = 5


async def test_lost_answer_and_concurrent_replays_add_each_event_once(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    settings = make_settings(tmp_path)
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    async with running(settings.model_copy(update={"redis_url": dead_url})) as (_app, client):
        for _ in range(ROWS):
            assert (await client.post("/v1/clearances", json=clearance_body())).status_code == 200
    store = RecordsStore(settings.database_url)
    workers = [open_redis(None, embedded_redis) for _ in range(2)]
    try:
        pending = await to_thread.run_sync(store.pending_events, 100, None)
        assert len(pending) == ROWS
        first = OutboxPublisher(workers[0], store, BackendMetrics(), grace_s=0.0)
        second = OutboxPublisher(workers[1], store, BackendMetrics(), grace_s=0.0)
        # Redis applied this publish but its answer never came back: the row is still pending.
        lost = pending[0]
        async with workers[0].pipeline(transaction=True) as pipe:
            pipe.xadd(lost.stream, cast(Any, lost.fields))
            pipe.set(outbox_sent_key(lost.event_id), "1")
            await pipe.execute()

        await asyncio.gather(first.replay_pending(), second.replay_pending())

        entries = cast(list[tuple[str, dict[str, str]]], await workers[0].xrange(STREAM_CLEARANCES))
        ids = Counter(decode_event(fields).event_id for _, fields in entries)
        assert ids == Counter({row.event_id: 1 for row in pending})
        assert await to_thread.run_sync(store.count_pending) == 0
    finally:
        for worker in workers:
            await worker.aclose()
        store.dispose()
