"""The dashboard's loops on the embedded fakeredis and on a real redis-server: alerts recorded
and pushed, the live relay, wait sampling and the forecast."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
from redis.asyncio import Redis

import backend.app  # noqa: F401  (every table on the records Base)
from backend.dashboard import live
from backend.dashboard.settings import DashboardSettings
from backend.dashboard.store import DashboardStore
from backend.records.store import RecordsStore
from bordergate.contracts import (
    CHANNEL_LIVE,
    STREAM_ALERTS,
    Alert,
    Hall,
    LaneState,
    ScheduledArrival,
    WaitStats,
    encode_event,
    lane_state_key,
    schedule_key,
    wait_stats_key,
)
from bordergate.redis_conn import open_redis
from queue_monitor.control import LaneController
from queue_monitor.settings import MonitorSettings


@pytest.fixture(params=["fakeredis", "redis-server"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    if request.param == "fakeredis":
        client = open_redis(None, fakeredis.FakeServer())
    else:
        client = open_redis(request.getfixturevalue("redis_url"))
    yield client
    await client.aclose()


@pytest.fixture
def store(tmp_path: Path) -> DashboardStore:
    records = RecordsStore(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    records.ensure_schema()
    return DashboardStore(records)


async def next_message(client: live.Client, kind: str, timeout_s: float = 2.0) -> dict[str, object]:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = json.loads(await client.queue.get())
            if msg["kind"] == kind:
                data: dict[str, object] = msg["data"]
                return data


async def test_alerts_are_kept_once_and_pushed_within_a_second(
    redis: Redis, store: DashboardStore
) -> None:
    hub = live.DashboardHub()
    earlier = Alert(hall=Hall.AIRPORT, severity="warning", kind="forecast-at-risk", message="m1")
    await redis.xadd(STREAM_ALERTS, encode_event(earlier))  # type: ignore[arg-type]
    with hub.subscribe() as client:
        task = asyncio.create_task(live.tail_alerts(redis, store, hub))
        try:
            # Today's alerts from before the start are caught up.
            assert (await next_message(client, "alert"))["event_id"] == earlier.event_id
            alert = Alert(
                hall=Hall.CRUISE, severity="critical", kind="measured-wait-exceeded", message="m2"
            )
            started = asyncio.get_running_loop().time()
            await redis.xadd(STREAM_ALERTS, encode_event(alert))  # type: ignore[arg-type]
            pushed = await next_message(client, "alert")
            latency = asyncio.get_running_loop().time() - started
            assert pushed["event_id"] == alert.event_id
            assert pushed["hall"] == "cruise"
            assert latency < 1.0
            # The same event again (a producer's retry): pushed, but kept once.
            await redis.xadd(STREAM_ALERTS, encode_event(alert))  # type: ignore[arg-type]
            await next_message(client, "alert")
            cleared = Alert(
                hall=Hall.CRUISE,
                severity="info",
                kind="measured-wait-exceeded-cleared",
                message="m3",
                data={"raised_event_id": alert.event_id},
            )
            await redis.xadd(STREAM_ALERTS, encode_event(cleared))  # type: ignore[arg-type]
            await next_message(client, "alert")
        finally:
            task.cancel()
    day = datetime.now(UTC) + timedelta(hours=8)
    kept = store.alerts(day.date())
    assert sorted(a.event_id for a in kept) == sorted(
        [earlier.event_id, alert.event_id, cleared.event_id]
    )
    raised = store.alert(alert.event_id)
    assert raised is not None
    assert raised.cleared_at == cleared.at


async def test_relay_forwards_the_dashboard_kinds_only(redis: Redis) -> None:
    hub = live.DashboardHub()
    with hub.subscribe() as client:
        task = asyncio.create_task(live.relay_live(redis, hub))
        try:
            await asyncio.sleep(0.3)  # subscribed
            await redis.publish(CHANNEL_LIVE, json.dumps({"kind": "referral", "data": {"x": 1}}))
            await redis.publish(CHANNEL_LIVE, "not json")
            await redis.publish(CHANNEL_LIVE, json.dumps({"kind": "wait_stats", "data": {"n": 2}}))
            async with asyncio.timeout(2):
                msg = json.loads(await client.queue.get())
            assert msg == {"kind": "wait_stats", "data": {"n": 2}}
            assert client.queue.empty()
        finally:
            task.cancel()


def test_a_slow_dashboard_is_dropped() -> None:
    hub = live.DashboardHub(queue_size=2)
    with hub.subscribe() as slow:
        for i in range(3):
            hub.broadcast(str(i))
        assert slow.dropped
        assert slow not in hub.clients


def _stats(hall: Hall, at: datetime, p95: float) -> WaitStats:
    return WaitStats(
        hall=hall,
        samples=50,
        p95_wait_s=p95,
        mean_wait_s=p95 / 3,
        share_within_target=0.97,
        target_s=1500.0,
        window_s=3600.0,
        waiting_now=12,
        updated_at=at,
    )


async def test_sampling_keeps_one_row_per_hall_and_interval(
    redis: Redis, store: DashboardStore
) -> None:
    settings = DashboardSettings(dashboard_sample_interval_s=60, dashboard_stale_after_s=120)
    now = datetime(2026, 5, 1, 2, 0, 30, tzinfo=UTC)
    await redis.set(
        wait_stats_key(Hall.AIRPORT), _stats(Hall.AIRPORT, now, 600.0).model_dump_json()
    )
    stale = now - timedelta(minutes=5)
    await redis.set(wait_stats_key(Hall.CRUISE), _stats(Hall.CRUISE, stale, 60.0).model_dump_json())
    lanes = {
        "egate-01": LaneState(
            lane_id="egate-01", hall=Hall.AIRPORT, lane_type="egate", status="open", since=now
        ),
        "officer-01": LaneState(
            lane_id="officer-01",
            hall=Hall.AIRPORT,
            lane_type="officer",
            status="closing",
            since=now,
        ),
        "officer-02": LaneState(
            lane_id="officer-02",
            hall=Hall.AIRPORT,
            lane_type="officer",
            status="opening",
            since=now,
        ),
    }
    await redis.hset(
        lane_state_key(Hall.AIRPORT), mapping={k: v.model_dump_json() for k, v in lanes.items()}
    )
    kept = await live.sample_once(redis, store, settings, now)
    assert [(s.hall, s.p95_wait_s, s.egates_open, s.officer_lanes_open) for s in kept] == [
        (Hall.AIRPORT, 600.0, 1, 1)  # the cruise statistics are stale: not sampled
    ]
    assert kept[0].at == datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    again = await live.sample_once(redis, store, settings, now + timedelta(seconds=20))
    assert again == []  # the same interval
    later = await live.sample_once(redis, store, settings, now + timedelta(seconds=40))
    assert [s.at for s in later] == [datetime(2026, 5, 1, 2, 1, tzinfo=UTC)]
    day = store.samples(datetime(2026, 5, 1).date(), Hall.AIRPORT)
    assert len(day) == 2


async def test_forecast_follows_the_schedule(redis: Redis) -> None:
    settings = DashboardSettings()
    monitor = MonitorSettings(consumer_name="dashboard-test")
    controller = LaneController(redis, monitor)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    flight = ScheduledArrival(
        kind="flight",
        ref="KE805",
        hall=Hall.AIRPORT,
        at=now + timedelta(minutes=30),
        passengers=600,
        egate_share=0.4,
    )
    await redis.hset(schedule_key(Hall.AIRPORT), flight.arrival_id, flight.model_dump_json())
    started = asyncio.get_running_loop().time()
    forecasts = {f.hall: f for f in await live.forecast_once(redis, controller, settings, now)}
    elapsed = asyncio.get_running_loop().time() - started
    airport, cruise = forecasts[Hall.AIRPORT], forecasts[Hall.CRUISE]
    total = sum(b.arrivals for b in airport.buckets)
    assert total == pytest.approx(600, abs=2)
    # Nobody before on-block; the flight's travellers in the buckets after it.
    assert airport.buckets[0].arrivals == 0
    assert airport.buckets[1].arrivals == 0
    assert airport.buckets[2].arrivals > 100
    busy = [b for b in airport.buckets if b.arrivals > 0]
    assert all(b.p95_wait_s is not None for b in busy)
    assert max(b.officer_lanes for b in airport.buckets) >= 1
    assert airport.share_next_hour_planned is not None
    # The cruise terminal expects nobody: no waits, everyone within the target.
    assert sum(b.arrivals for b in cruise.buckets) == 0
    assert all(b.share_within_target == 1.0 and b.p95_wait_s is None for b in cruise.buckets)
    assert elapsed < 5.0
