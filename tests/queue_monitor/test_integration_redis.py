"""Several monitors sharing the group on a real redis-server: exactly-once, resume after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    ClearanceOutcome,
    Hall,
    Outcome,
    QueueJoined,
    QueueServed,
    ReasonCode,
)
from bordergate.redis_conn import open_redis
from queue_monitor import QueueMonitor
from queue_monitor.store import read_clearance_counts
from tests.queue_monitor.factories import (
    Visit,
    add,
    eventually,
    expected_p95,
    fast_settings,
    joined,
    outcome,
    pending_count,
    served,
    visits,
)

pytestmark = pytest.mark.redis

N = 200


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = open_redis(redis_url)
    yield c
    await c.aclose()


Produced = QueueJoined | QueueServed | ClearanceOutcome


def build_events(vs: list[Visit], seed: int) -> list[Produced]:
    """Every visit's joined and served in a shuffled order (many served before their joined),
    10% redelivered duplicates (same event ids), and clearance outcomes each published twice
    (the backend publishes at least once)."""
    rnd = random.Random(seed)
    queue: list[Produced] = [joined(v.ref, v.joined_at) for v in vs]
    queue += [served(v.ref, v.served_at) for v in vs]
    rnd.shuffle(queue)
    queue += rnd.sample(queue, len(queue) // 10)
    events: list[Produced] = []
    for i, event in enumerate(queue):
        events.append(event)
        if i % 8 == 0:
            clearance = (
                outcome(Outcome.ADMIT) if i % 16 else outcome(Outcome.REFER, [ReasonCode.NO_SCHEME])
            )
            events += [clearance, clearance]
    return events


def admitted(events: list[Produced]) -> int:
    """How many distinct admit outcomes ``events`` hold."""
    return len(
        {
            e.event_id
            for e in events
            if isinstance(e, ClearanceOutcome) and e.outcome is Outcome.ADMIT
        }
    )


async def publish(redis: Redis, events: list[Produced], pace_every: int = 0) -> None:
    for i, event in enumerate(events):
        await add(redis, event)
        if pace_every and i % pace_every == 0:
            await asyncio.sleep(0.005)  # let the monitors interleave


async def run_monitor(url: str, name: str, **overrides: object) -> tuple[QueueMonitor, Redis]:
    redis = open_redis(url)
    return QueueMonitor(redis, fast_settings(name, **overrides)), redis


async def all_done(client: Redis, samples: int) -> bool:
    stats = await QueueMonitor(client, fast_settings("probe")).state.compute_stats(Hall.AIRPORT)
    return (
        stats.samples == samples
        and await pending_count(client) == 0
        and await pending_count(client, STREAM_CLEARANCES) == 0
        and stats.waiting_now == 0
    )


async def test_two_monitors_share_the_group_exactly_once(redis_url: str, client: Redis) -> None:
    vs = visits(N)
    monitors = [await run_monitor(redis_url, name) for name in ("alpha", "beta")]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(m.run(stop)) for m, _ in monitors]
    try:
        events = build_events(vs, seed=1)
        await publish(client, events, pace_every=4)
        await eventually(lambda: all_done(client, N))
        await asyncio.sleep(0.2)  # nothing more arrives late
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        for _, r in monitors:
            await r.aclose()

    stats = await QueueMonitor(client, fast_settings("probe")).state.compute_stats(Hall.AIRPORT)
    waits = [v.wait_s for v in vs]
    assert stats.samples == N
    assert stats.p95_wait_s == expected_p95(waits) == 1900.0
    assert stats.mean_wait_s == pytest.approx(sum(waits) / N)
    assert stats.share_within_target == 150 / N
    counts = [m.consumer.counts for m, _ in monitors]
    assert all(c["paired"] > 0 for c in counts), counts  # both did part of the work
    assert sum(c["paired"] for c in counts) == N  # each pair applied exactly once
    clearances = await read_clearance_counts(client, Hall.AIRPORT)
    total = clearances["total"]
    assert clearances["outcome:admit"] == admitted(events)
    assert clearances["outcome:refer"] == clearances["reason:no-scheme"] == total - admitted(events)


async def test_crashed_and_stopped_monitors_are_resumed(redis_url: str, client: Redis) -> None:
    vs = visits(N)
    events = build_events(vs, seed=2)
    cut1, cut2 = len(events) * 2 // 5, len(events) * 7 // 10
    # Shuffled: many travellers join in one part and are served in another.
    part1, part2, part3 = events[:cut1], events[cut1:cut2], events[cut2:]

    # 1. A monitor that crashes mid-stream: its task is cancelled (no clean shutdown), so what it
    #    had read stays pending, perhaps applied but not acknowledged.
    crashing, crashing_redis = await run_monitor(redis_url, "crashing", batch_size=7)
    crash_task = asyncio.create_task(crashing.run(asyncio.Event()))
    await publish(client, part1, pace_every=3)

    async def crashing_busy() -> bool:
        return crashing.consumer.counts.total() >= 60

    await eventually(crashing_busy)
    crash_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await crash_task
    await crashing_redis.aclose()

    # 2. A monitor stopped cleanly while traffic flows.
    stopping, stopping_redis = await run_monitor(redis_url, "stopping")
    stop = asyncio.Event()
    stop_task = asyncio.create_task(stopping.run(stop))
    producer = asyncio.create_task(publish(client, part2, pace_every=2))

    async def stopping_busy() -> bool:
        return stopping.consumer.counts.total() >= 30

    await eventually(stopping_busy)
    stop.set()
    await asyncio.wait_for(stop_task, timeout=2)
    await stopping_redis.aclose()
    await producer

    # 3. More traffic while no monitor runs; a consumer reads some of it and dies at once.
    await publish(client, part3)
    ghost: Any = await client.xreadgroup(
        GROUP_QUEUE_MONITOR, "ghost", {STREAM_QUEUE: ">"}, count=20
    )
    assert len(ghost[0][1]) == 20
    await asyncio.sleep(0.25)  # the ghost's entries are now idle for longer than reclaim_idle_ms

    # 4. A successor takes over what was left pending and reads on from the group's position.
    successor, successor_redis = await run_monitor(redis_url, "successor", reclaim_idle_ms=200)
    stop = asyncio.Event()
    task = asyncio.create_task(successor.run(stop))
    try:
        await eventually(lambda: all_done(client, N))
        await asyncio.sleep(0.3)  # give any late double count the chance to show
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        await successor_redis.aclose()

    stats = await successor.state.compute_stats(Hall.AIRPORT)
    assert stats.samples == N
    assert stats.waiting_now == 0
    assert stats.p95_wait_s == expected_p95([v.wait_s for v in vs])
    clearances = await read_clearance_counts(client, Hall.AIRPORT)
    assert clearances["outcome:admit"] == admitted(events)  # nothing lost, nothing twice
    assert clearances["total"] - admitted(events) == clearances["outcome:refer"]
    assert successor.consumer.counts["reclaimed"] >= 20
    monitors = (crashing, stopping, successor)
    assert sum(m.consumer.counts["paired"] for m in monitors) <= N  # never paired twice
