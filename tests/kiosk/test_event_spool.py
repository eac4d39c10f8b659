"""The kiosk's event spool: what Redis does not take now is kept (in a file too) and replayed."""

from __future__ import annotations

from pathlib import Path

import fakeredis
from redis.asyncio import Redis

from bordergate.contracts import STREAM_ALERTS, STREAM_QUEUE, Alert, Hall, QueueJoined, decode_event
from bordergate.redis_conn import open_redis
from kiosk.event_spool import EventSpool
from tests.conftest import free_port


def dead_redis() -> Redis:
    return Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)


def joined(n: int) -> QueueJoined:
    return QueueJoined(hall=Hall.AIRPORT, traveller_ref=f"t{n}", counter_id="C1")


async def stream_refs(redis: Redis, stream: str = STREAM_QUEUE) -> list[str]:
    refs = []
    for _id, fields in await redis.xrange(stream):
        event = decode_event(fields)
        assert isinstance(event, QueueJoined)
        refs.append(event.traveller_ref)
    return refs


async def test_kept_through_an_outage_and_a_restart_then_replayed_in_order(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    path = tmp_path / "A1.events.jsonl"
    dead = dead_redis()
    try:
        spool = EventSpool(dead, timeout_s=0.5, path=path)
        for n in range(3):
            assert await spool.publish(joined(n), STREAM_QUEUE) is False
        alert = Alert(
            hall=Hall.AIRPORT, severity="critical", kind="lane-out-of-service", message="x"
        )
        assert await spool.publish(alert, STREAM_ALERTS) is False
        assert len(spool) == 4
        assert await spool.drain() == 0  # still down: nothing lost, nothing sent
    finally:
        await dead.aclose()
    assert len(path.read_text().splitlines()) == 4
    assert "document" not in path.read_text()

    # The kiosk restarts while Redis is back: the new process finds the file and sends it all.
    live = open_redis(None, embedded_redis)
    try:
        again = EventSpool(live, path=path)
        assert len(again) == 4
        assert await again.drain() == 4
        assert await stream_refs(live) == ["t0", "t1", "t2"]
        assert len(await live.xrange(STREAM_ALERTS)) == 1
        assert not path.exists()  # nothing left to keep
        assert await again.publish(joined(3), STREAM_QUEUE) is True  # straight through now
        assert await stream_refs(live) == ["t0", "t1", "t2", "t3"]
    finally:
        await live.aclose()


async def test_a_new_event_waits_behind_the_kept_ones(
    embedded_redis: fakeredis.FakeServer,
) -> None:
    live = open_redis(None, embedded_redis)
    dead = dead_redis()
    try:
        spool = EventSpool(dead, timeout_s=0.5)
        assert await spool.publish(joined(0), STREAM_QUEUE) is False
        spool.redis = live  # Redis is back, but t0 has not been replayed yet
        assert await spool.publish(joined(1), STREAM_QUEUE) is False
        assert await stream_refs(live) == []
        assert await spool.drain() == 2
        assert await stream_refs(live) == ["t0", "t1"]
    finally:
        await dead.aclose()
        await live.aclose()


async def test_a_full_spool_drops_the_oldest_and_counts_it(tmp_path: Path) -> None:
    dead = dead_redis()
    try:
        spool = EventSpool(dead, timeout_s=0.5, path=tmp_path / "s.jsonl", max_events=2)
        for n in range(3):
            await spool.publish(joined(n), STREAM_QUEUE)
        assert spool.dropped == 1
        assert len(spool) == 2
        assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 2
    finally:
        await dead.aclose()


async def test_a_line_cut_short_by_a_crash_is_skipped(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    path = tmp_path / "s.jsonl"
    dead = dead_redis()
    try:
        spool = EventSpool(dead, timeout_s=0.5, path=path)
        await spool.publish(joined(0), STREAM_QUEUE)
    finally:
        await dead.aclose()
    with path.open("a") as out:
        out.write('{"stream": "bordergate:queue", "fields": {"data": "{\\"type\\": \\"queue.jo')
    live = open_redis(None, embedded_redis)
    try:
        again = EventSpool(live, path=path)
        assert len(again) == 1
        assert await again.drain() == 1
        assert await stream_refs(live) == ["t0"]
    finally:
        await live.aclose()
