"""The consumer and the shared state on fakeredis: pairing, de-duplication, bad entries, reclaim."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import fakeredis
import pytest
from redis.asyncio import Redis

from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    DeviceHeartbeat,
    Hall,
    Outcome,
    ReasonCode,
    decode_event,
    encode_event,
    processed_key,
    queue_visit_key,
    wait_samples_key,
)
from bordergate.redis_conn import open_redis
from queue_monitor.service import QueueMonitor
from queue_monitor.store import Applied, SharedWaitState, read_clearance_counts
from tests.queue_monitor.factories import (
    T0,
    add,
    expected_p95,
    fast_settings,
    joined,
    outcome,
    pending_count,
    served,
    visits,
)


@pytest.fixture
def monitor(redis: Redis) -> QueueMonitor:
    return QueueMonitor(redis, fast_settings("m1"))


async def test_joined_then_served_gives_one_sample(redis: Redis, monitor: QueueMonitor) -> None:
    await add(redis, joined("alice", T0))
    assert await monitor.process_available() == 1
    stats = await monitor.state.compute_stats(Hall.AIRPORT)
    assert (stats.samples, stats.waiting_now) == (0, 1)

    await add(redis, served("alice", T0 + timedelta(minutes=12, seconds=34.5)))
    assert await monitor.process_available() == 1
    stats = await monitor.state.compute_stats(Hall.AIRPORT)
    assert stats.samples == 1
    assert stats.p95_wait_s == pytest.approx(754.5)  # from the events' `at`, not arrival time
    assert stats.mean_wait_s == pytest.approx(754.5)
    assert stats.share_within_target == 1.0
    assert stats.waiting_now == 0
    assert (stats.target_s, stats.window_s) == (1500.0, 3600.0)
    assert await pending_count(redis) == 0
    other = await monitor.state.compute_stats(Hall.CRUISE)
    assert (other.samples, other.p95_wait_s, other.waiting_now) == (0, None, 0)


async def test_p95_over_known_samples(redis: Redis, monitor: QueueMonitor) -> None:
    vs = visits(100)  # waits 10..1000 s
    for v in vs:
        await add(redis, joined(v.ref, v.joined_at))
    for v in vs:
        await add(redis, served(v.ref, v.served_at))
    await monitor.process_available()
    stats = await monitor.state.compute_stats(Hall.AIRPORT)
    assert stats.samples == 100
    assert stats.p95_wait_s == 950.0 == expected_p95([v.wait_s for v in vs])
    assert stats.mean_wait_s == pytest.approx(505.0)
    assert stats.share_within_target == 1.0


async def test_share_within_target_counts_long_waits(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m", target_wait_s=300))
    for i, wait in enumerate([100, 200, 300, 400]):
        await state.apply(joined(f"t{i}", T0))
        await state.apply(served(f"t{i}", T0 + timedelta(seconds=wait)))
    stats = await state.compute_stats(Hall.AIRPORT)
    assert stats.share_within_target == 0.75
    assert stats.p95_wait_s == 400


async def test_served_before_joined_is_parked_then_paired(
    redis: Redis, monitor: QueueMonitor
) -> None:
    await add(redis, served("bob", T0 + timedelta(minutes=30)))
    await monitor.process_available()
    assert (await monitor.state.compute_stats(Hall.AIRPORT)).samples == 0
    assert monitor.consumer.counts["parked"] == 1

    await add(redis, joined("bob", T0))
    await monitor.process_available()
    stats = await monitor.state.compute_stats(Hall.AIRPORT)
    assert stats.samples == 1
    assert stats.p95_wait_s == 1800.0
    assert stats.share_within_target == 0.0
    assert stats.waiting_now == 0


async def test_same_event_twice_on_stream_counted_once(redis: Redis, monitor: QueueMonitor) -> None:
    j, s = joined("carol", T0), served("carol", T0 + timedelta(seconds=90))
    for event in (j, j, s, s, j):
        await add(redis, event)
    assert await monitor.process_available() == 5
    assert monitor.consumer.counts["paired"] == 1
    assert monitor.consumer.counts["duplicate"] == 3
    members = await redis.zrange(wait_samples_key(Hall.AIRPORT), 0, -1)
    assert len(members) == 1
    assert (await monitor.state.compute_stats(Hall.AIRPORT)).waiting_now == 0


async def test_republished_served_with_new_id_does_not_pair_twice(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m"))
    assert await state.apply(joined("dan", T0)) is Applied.WAITING
    assert await state.apply(served("dan", T0 + timedelta(seconds=60))) is Applied.PAIRED
    # Same traveller, new event ids (a producer's retry that minted a new id):
    assert await state.apply(served("dan", T0 + timedelta(seconds=70))) is Applied.IGNORED
    assert await state.apply(joined("dan", T0 + timedelta(seconds=5))) is Applied.IGNORED
    stats = await state.compute_stats(Hall.AIRPORT)
    assert (stats.samples, stats.p95_wait_s, stats.waiting_now) == (1, 60.0, 0)


async def test_earliest_joined_and_served_count_in_any_delivery_order(redis: Redis) -> None:
    # Two monitors apply in parallel: a traveller's second counter pass (later) can pair first.
    state = SharedWaitState(redis, fast_settings("m"))
    assert await state.apply(served("fay", T0 + timedelta(seconds=100))) is Applied.PARKED
    assert await state.apply(joined("fay", T0 + timedelta(seconds=30))) is Applied.PAIRED
    assert await state.apply(joined("fay", T0)) is Applied.PAIRED  # the first pass, late
    assert await state.apply(served("fay", T0 + timedelta(seconds=90))) is Applied.PAIRED
    assert await state.apply(joined("fay", T0 + timedelta(seconds=10))) is Applied.IGNORED
    stats = await state.compute_stats(Hall.AIRPORT)
    assert (stats.samples, stats.p95_wait_s, stats.waiting_now) == (1, 90.0, 0)


async def test_duplicate_marker_is_set_with_ttl(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m", processed_ttl_s=1234))
    event = joined("erin", T0)
    await state.apply(event)
    ttl = await redis.ttl(processed_key(GROUP_QUEUE_MONITOR, event.event_id))
    assert 0 < ttl <= 1234
    assert await state.apply(event) is Applied.DUPLICATE
    assert await redis.ttl(queue_visit_key(Hall.AIRPORT, "erin")) > 0


async def test_malformed_entries_are_acked_and_skipped(redis: Redis, monitor: QueueMonitor) -> None:
    await redis.xadd(STREAM_QUEUE, {"foo": "bar"})  # no data field
    await redis.xadd(STREAM_QUEUE, {"type": "queue.joined", "data": "{not json"})
    await redis.xadd(STREAM_QUEUE, {"type": "queue.joined", "data": '{"type": "queue.joined"}'})
    await redis.xadd(STREAM_CLEARANCES, {"type": "x", "data": '{"type": "nonsense"}'})
    await add(redis, joined("fay", T0))
    await add(redis, served("fay", T0 + timedelta(seconds=42)))
    assert await monitor.process_available() == 6
    assert monitor.consumer.counts["malformed"] == 4
    assert await pending_count(redis, STREAM_QUEUE) == 0
    assert await pending_count(redis, STREAM_CLEARANCES) == 0
    stats = await monitor.state.compute_stats(Hall.AIRPORT)
    assert (stats.samples, stats.p95_wait_s) == (1, 42.0)


async def test_other_event_types_are_acked_and_ignored(redis: Redis, monitor: QueueMonitor) -> None:
    beat = DeviceHeartbeat(kind="counter", device_id="c1")
    await redis.xadd(STREAM_QUEUE, encode_event(beat))  # type: ignore[arg-type]
    assert await monitor.process_available() == 1
    assert monitor.consumer.counts["ignored"] == 1
    assert await pending_count(redis) == 0


async def test_clearance_outcomes_counted_once(redis: Redis, monitor: QueueMonitor) -> None:
    admit = outcome(Outcome.ADMIT)
    refer = outcome(Outcome.REFER, [ReasonCode.FACE_MISMATCH, ReasonCode.JOURNEY_MISSING])
    refer2 = outcome(Outcome.REFER, [ReasonCode.FACE_MISMATCH, ReasonCode.FACE_MISMATCH])
    cruise = outcome(Outcome.ADMIT, hall=Hall.CRUISE)
    for event in (admit, refer, admit, refer2, refer, refer, cruise, cruise):  # at-least-once
        await add(redis, event)
    assert await monitor.process_available() == 8
    assert await read_clearance_counts(redis, Hall.AIRPORT) == {
        "total": 3,
        "outcome:admit": 1,
        "outcome:refer": 2,
        "reason:face-mismatch": 2,
        "reason:journey-missing": 1,
    }
    assert await read_clearance_counts(redis, Hall.CRUISE) == {"total": 1, "outcome:admit": 1}
    assert monitor.consumer.counts["duplicate"] == 4


async def test_negative_wait_is_clamped_to_zero(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m"))
    await state.apply(joined("gus", T0 + timedelta(seconds=3)))  # counter clock ahead of the gate
    await state.apply(served("gus", T0))
    stats = await state.compute_stats(Hall.AIRPORT)
    assert (stats.samples, stats.p95_wait_s) == (1, 0.0)


async def test_window_uses_event_clock(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m", window_s=3600))
    await state.apply(joined("old", T0))
    await state.apply(served("old", T0 + timedelta(seconds=100)))
    await state.apply(joined("new", T0 + timedelta(hours=2)))
    await state.apply(served("new", T0 + timedelta(hours=2, seconds=200)))
    stats = await state.compute_stats(Hall.AIRPORT)  # the events are years in the past
    assert (stats.samples, stats.p95_wait_s) == (1, 200.0)
    assert len(await redis.zrange(wait_samples_key(Hall.AIRPORT), 0, -1)) == 1  # trimmed


async def test_window_wall_clock(redis: Redis) -> None:
    state = SharedWaitState(redis, fast_settings("m", window_clock="wall"))
    await state.apply(joined("x", T0))
    await state.apply(served("x", T0 + timedelta(seconds=100)))
    assert (await state.compute_stats(Hall.AIRPORT, now=T0 + timedelta(minutes=30))).samples == 1
    assert (await state.compute_stats(Hall.AIRPORT, now=T0 + timedelta(hours=2))).samples == 0


async def test_concurrent_joined_and_served_always_pair(
    embedded_redis: fakeredis.FakeServer,
) -> None:
    """Two monitors applying one traveller's two events at the same moment never lose the pair."""
    a, b = open_redis(None, embedded_redis), open_redis(None, embedded_redis)
    try:
        sa = SharedWaitState(a, fast_settings("a"))
        sb = SharedWaitState(b, fast_settings("b"))
        vs = visits(60)
        for v in vs:
            await asyncio.gather(
                sa.apply(joined(v.ref, v.joined_at)), sb.apply(served(v.ref, v.served_at))
            )
        stats = await sa.compute_stats(Hall.AIRPORT)
        assert stats.samples == 60
        assert stats.waiting_now == 0
        assert stats.p95_wait_s == expected_p95([v.wait_s for v in vs])
    finally:
        await a.aclose()
        await b.aclose()


async def test_dead_consumers_pending_entries_are_reclaimed(redis: Redis) -> None:
    vs = visits(10)
    for v in vs:
        await add(redis, joined(v.ref, v.joined_at))
        await add(redis, served(v.ref, v.served_at))
    clear = outcome(Outcome.ADMIT)
    await add(redis, clear)
    first = QueueMonitor(redis, fast_settings("first"))
    await first.consumer.ensure_groups()
    # A consumer reads 12 entries and dies before acknowledging; it applied the first 6.
    dead: Any = await redis.xreadgroup(GROUP_QUEUE_MONITOR, "dead", {STREAM_QUEUE: ">"}, count=12)
    dead_c: Any = await redis.xreadgroup(GROUP_QUEUE_MONITOR, "dead", {STREAM_CLEARANCES: ">"})
    for _, fields in dead[0][1][:6]:
        await first.state.apply(decode_event(fields))
    await first.state.apply(decode_event(dead_c[0][1][0][1]))
    assert await pending_count(redis) == 12

    # A live monitor without reclaim does not touch them yet...
    await first.process_available()
    assert await pending_count(redis) == 12
    assert (await first.state.compute_stats(Hall.AIRPORT)).samples == 3 + 4  # 3 pending

    # ...one that reclaims after 0 ms idle takes them over, applies each exactly once, acks.
    rescuer = QueueMonitor(redis, fast_settings("rescuer", reclaim_idle_ms=0))
    await rescuer.process_available()
    assert rescuer.consumer.counts["reclaimed"] == 13
    assert rescuer.consumer.counts["duplicate"] == 7
    assert await pending_count(redis) == 0
    assert await pending_count(redis, STREAM_CLEARANCES) == 0
    stats = await rescuer.state.compute_stats(Hall.AIRPORT)
    assert stats.samples == 10
    assert stats.p95_wait_s == expected_p95([v.wait_s for v in vs])
    assert await read_clearance_counts(redis, Hall.AIRPORT) == {"total": 1, "outcome:admit": 1}


async def test_restart_under_same_name_rereads_own_pending(redis: Redis) -> None:
    await add(redis, joined("hal", T0))
    await add(redis, served("hal", T0 + timedelta(seconds=30)))
    m = QueueMonitor(redis, fast_settings("same"))
    await m.consumer.ensure_groups()
    await redis.xreadgroup(GROUP_QUEUE_MONITOR, "same", {STREAM_QUEUE: ">"})  # crash after read
    again = QueueMonitor(redis, fast_settings("same"))
    assert await again.process_available() == 2
    assert await pending_count(redis) == 0
    assert (await again.state.compute_stats(Hall.AIRPORT)).p95_wait_s == 30.0
