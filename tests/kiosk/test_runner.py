from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bordergate.contracts import (
    STREAM_QUEUE,
    Hall,
    QueueJoined,
    QueueServed,
    decode_event,
    heartbeat_key,
)
from hardware_mocks.crowd import HallCrowd
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import TravellerFactory
from kiosk.runner import LaneStats, queue_joined_publisher, run_lane
from kiosk.session import SessionResult
from kiosk.settings import KioskSettings
from tests.conftest import free_port
from tests.kiosk.conftest import NO_SURPRISES, FakeVerifier, RecordingBackend, wait_until


async def queue_events(redis: Redis) -> list[Any]:
    entries = await redis.xrange(STREAM_QUEUE)
    return [decode_event(fields) for _, fields in entries]


async def test_standalone_lane_serves_its_own_crowd(
    fake_redis: Redis, settings: KioskSettings, faces_dir: Path
) -> None:
    settings = settings.model_copy(
        update={"faces_dir": faces_dir, "arrival_rate_per_min": 600.0, "seed": 5}
    )
    backend = RecordingBackend()
    stop = asyncio.Event()
    results: list[SessionResult] = []
    async with backend.client() as client:
        task = asyncio.create_task(
            run_lane(
                settings,
                fake_redis,
                None,
                FakeVerifier(),
                stop,
                backend=client,
                on_result=results.append,
                max_travellers=4,
            )
        )
        key = heartbeat_key("kiosk", "T1")
        await wait_until(lambda: bool(results))
        ttl = await fake_redis.ttl(key)
        assert 0 < ttl <= settings.heartbeat_ttl_s
        assert "T1" in (await fake_redis.get(key) or "")
        stats = await asyncio.wait_for(task, 10)

    assert isinstance(stats, LaneStats)
    assert stats.served == 4
    assert stats.completed == 4
    assert stats.errors == 0
    assert stats.admitted + stats.referred == 4
    assert stats.publish_failures == 0
    events = await queue_events(fake_redis)
    joined = [e for e in events if isinstance(e, QueueJoined)]
    served = [e for e in events if isinstance(e, QueueServed)]
    assert len(served) == 4
    assert len(joined) >= 4
    assert all(e.lane_id == "T1" and e.hall is Hall.AIRPORT for e in served)
    refs = [e.traveller_ref for e in events]
    for event in served:  # each one joined (through the counter) before it was served
        assert refs.index(event.traveller_ref) < events.index(event)
    assert [r.traveller_ref for r in results] == [e.traveller_ref for e in served]
    assert await fake_redis.get(heartbeat_key("kiosk", "T1")) is None  # removed on clean stop


async def test_two_lanes_share_one_hall_queue(
    fake_redis: Redis, settings: KioskSettings, faces_dir: Path
) -> None:
    factory = TravellerFactory(seed=9, faces_dir=faces_dir, mix=NO_SURPRISES)
    crowd = HallCrowd(Hall.AIRPORT, factory, rate_per_min=60.0, speed=100.0, seed=9,
                      max_travellers=8)  # fmt: skip
    stop = asyncio.Event()
    backend = RecordingBackend()
    results: list[SessionResult] = []
    lanes = [settings.model_copy(update={"lane_id": lane}) for lane in ("A1", "A2")]
    async with backend.client() as client, asyncio.TaskGroup() as tg:
        tg.create_task(crowd.run(stop, on_entry=queue_joined_publisher(fake_redis)))
        tasks = [
            tg.create_task(
                run_lane(
                    s,
                    fake_redis,
                    crowd,
                    FakeVerifier(),
                    stop,
                    backend=client,
                    lane=MockLane(s.lane_id, speed=s.speed, seed=i),
                    on_result=results.append,
                )
            )
            for i, s in enumerate(lanes)
        ]
        # Every traveller is served once: admitted, or (on a loaded machine) referred when a
        # step's scaled timeout ran out; either way the lane moves on to the next one.
        await wait_until(lambda: len(results) == 8, timeout_s=20.0)
        await asyncio.sleep(0.3)  # let the last gates close
        stop.set()
    stats = [t.result() for t in tasks]
    assert sum(s.served for s in stats) == 8
    assert all(s.served > 0 for s in stats)
    admitted = sum(s.admitted for s in stats)
    assert admitted == len(backend.requests) >= 6
    served = [e for e in await queue_events(fake_redis) if isinstance(e, QueueServed)]
    assert len({e.traveller_ref for e in served}) == 8
    assert {e.lane_id for e in served} == {"A1", "A2"}


async def test_redis_down_never_stops_the_lane(settings: KioskSettings, faces_dir: Path) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    factory = TravellerFactory(seed=4, faces_dir=faces_dir, mix=NO_SURPRISES)
    crowd = HallCrowd(Hall.AIRPORT, factory, rate_per_min=60.0, speed=100.0, max_travellers=2)
    stop = asyncio.Event()
    lane = MockLane("T1", speed=settings.speed)
    stats_holder: list[LaneStats] = []
    try:
        async with RecordingBackend().client() as client, asyncio.TaskGroup() as tg:
            tg.create_task(crowd.run(stop, on_entry=queue_joined_publisher(dead, 0.3)))

            async def lane_task() -> None:
                stats_holder.append(
                    await run_lane(
                        settings,
                        dead,
                        crowd,
                        FakeVerifier(),
                        stop,
                        backend=client,
                        lane=lane,
                        max_travellers=2,
                    )
                )
                stop.set()

            tg.create_task(lane_task())
    finally:
        await dead.aclose()
    (stats,) = stats_holder
    assert stats.served == 2
    assert stats.admitted == 2
    assert stats.publish_failures == 2
    assert lane.gate.open_count == 2


async def test_stop_during_a_session_aborts_with_gate_closed(
    fake_redis: Redis, settings: KioskSettings, faces_dir: Path
) -> None:
    factory = TravellerFactory(seed=4, faces_dir=faces_dir, mix=NO_SURPRISES)
    crowd = HallCrowd(Hall.AIRPORT, factory)
    crowd.add(factory.next())
    lane = MockLane("T1", speed=settings.speed)
    lane.gate.passage_delay_s = 1000.0
    stop = asyncio.Event()
    async with RecordingBackend().client() as client, asyncio.TaskGroup() as tg:
        tg.create_task(crowd.run(stop))
        task = tg.create_task(
            run_lane(settings, fake_redis, crowd, FakeVerifier(), stop, backend=client, lane=lane)
        )
        await wait_until(lambda: lane.gate.ever_opened)
        stop.set()
    stats = task.result()
    assert stats.aborted == 1
    assert stats.served == 1
    assert [e.action for e in lane.gate.history] == ["open", "close"]
