"""Against a real redis-server (the ``redis_url`` fixture)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, decode_event
from tests.backend.conftest import clearance_body, make_settings, running

pytestmark = pytest.mark.redis


async def connected_clients(reader: Redis) -> int:
    return int((await reader.info("clients"))["connected_clients"])


async def test_clearance_event_on_the_real_stream(tmp_path: Path, redis_url: str) -> None:
    reader = Redis.from_url(redis_url, decode_responses=True)
    try:
        baseline = await connected_clients(reader)
        # A replay grace longer than the test: the request's own publish is the only one (with
        # no grace the replay task may publish the same event first; consumers dedupe by id).
        settings = make_settings(tmp_path, redis_url=redis_url, outbox_replay_grace_s=30.0)
        async with running(settings) as (_app, client):
            assert (await client.get("/readyz")).status_code == 200
            assert await connected_clients(reader) > baseline
            body = clearance_body(face={"liveness": "failed"})
            response = await client.post("/v1/clearances", json=body)
            assert response.status_code == 200, response.text
            retry = await client.post("/v1/clearances", json=body)
            assert retry.json() == response.json()

        entries = await reader.xrange(STREAM_CLEARANCES)
        info = await reader.info("server")
        # The app closed its connections at shutdown.
        for _ in range(100):
            if await connected_clients(reader) == baseline:
                break
            await asyncio.sleep(0.02)
        assert await connected_clients(reader) == baseline
    finally:
        await reader.aclose()
    assert str(info["executable"]).endswith("redis-server")
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields["type"] == "clearance.outcome"
    event = decode_event(fields)
    assert isinstance(event, ClearanceOutcome)
    assert event.clearance_id == response.json()["clearance_id"]
    assert event.outcome == "refer"
    assert event.reasons == ["liveness-failed"]
