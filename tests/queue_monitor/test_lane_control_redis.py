"""Live, on a real redis-server: queue events in, lane commands and alerts out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bordergate.contracts import (
    CHANNEL_LIVE,
    STREAM_ALERTS,
    STREAM_LANE_COMMANDS,
    Alert,
    Hall,
    LaneCommand,
    QueueJoined,
    ScheduledArrival,
    decode_event,
    schedule_key,
)
from bordergate.redis_conn import open_redis
from queue_monitor import QueueMonitor
from queue_monitor.control import read_active_alerts, read_lane_decision, read_lanes
from tests.queue_monitor.factories import add, fast_settings

pytestmark = pytest.mark.redis

FORECAST_KINDS = {"forecast-at-risk", "capacity-insufficient"}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = open_redis(redis_url)
    yield c
    await c.aclose()


async def events(client: Redis, stream: str) -> list[Any]:
    return [decode_event(fields) for _, fields in await client.xrange(stream)]


async def live_messages(pubsub: Any, within_s: float = 1.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if msg is not None:
            out.append(json.loads(msg["data"]))
    return out


async def test_queue_events_in_lane_command_and_alert_out(redis_url: str, client: Redis) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # A big ship alongside 5 minutes ago: 4,000 passengers come ashore over 30 minutes.
    ship = ScheduledArrival(
        kind="ship",
        ref="MSC SPLENDIDA",
        hall=Hall.CRUISE,
        at=now - timedelta(minutes=5),
        passengers=4000,
        egate_share=0.45,
        disembark_per_min=4000 / 30,
    )
    await client.hset(schedule_key(Hall.CRUISE), ship.arrival_id, ship.model_dump_json())
    for i in range(40):
        at = now - timedelta(minutes=5) + timedelta(seconds=5 * i)  # complete minutes
        await add(
            client, QueueJoined(hall=Hall.CRUISE, traveller_ref=f"p{i}", counter_id="c", at=at)
        )

    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL_LIVE)
    monitors = [
        QueueMonitor(open_redis(redis_url), fast_settings(name)) for name in ("mon-a", "mon-b")
    ]
    try:
        assert await monitors[0].process_available() == 40
        first = await asyncio.gather(*(m.control_once(now) for m in monitors))

        # Lane commands: officer desks ordered open, ready after the opening delay.
        commands = [e for e in await events(client, STREAM_LANE_COMMANDS) if e.hall is Hall.CRUISE]
        assert commands
        assert all(isinstance(e, LaneCommand) for e in commands)
        opened = {e.lane_id for e in commands if e.action == "open"}
        assert {lane for lane in opened if lane.startswith("officer-")}
        assert len(opened) == len(commands)  # each lane told once, though two monitors ran
        assert all(e.effective_at == now + timedelta(minutes=5) for e in commands)
        assert all(e.reason for e in commands)

        # Alerts: the forecast is at risk, with how many more officers and from when.
        alerts = [e for e in await events(client, STREAM_ALERTS) if e.hall is Hall.CRUISE]
        assert all(isinstance(e, Alert) for e in alerts)
        kinds = [a.kind for a in alerts]
        assert FORECAST_KINDS & set(kinds)
        assert len(kinds) == len(set(kinds))
        for alert in alerts:
            if alert.kind in FORECAST_KINDS:
                assert alert.data["extra_officers"] > 0
                assert alert.data["from_time"] is not None
                assert alert.data["share_next_hour_now"] < 0.95

        # Lane state, the decision summary and the live pushes.
        lanes = await read_lanes(client, Hall.CRUISE)
        assert all(lanes[lane].status == "opening" for lane in opened)
        assert sum(lane.status == "open" for lane in lanes.values()) == 10 + 4  # gates + desks
        summary = await read_lane_decision(client, Hall.CRUISE)
        assert summary is not None
        assert summary.arrivals_last_hour == 40
        assert summary.queue_length == 40
        assert summary.decided_by in ("mon-a", "mon-b")
        pushed = await live_messages(pubsub)
        assert {m["data"]["kind"] for m in pushed if m["kind"] == "alert"} == set(kinds)
        assert any(m["kind"] == "lane_decision" for m in pushed)
        leaders = [o.hall for outs in first for o in outs if o.leader]
        assert sorted(leaders) == sorted(Hall)

        # Again a minute later: the need persists, nothing is raised or ordered twice.
        await asyncio.gather(*(m.control_once(now + timedelta(minutes=1)) for m in monitors))
        again = [e for e in await events(client, STREAM_ALERTS) if e.hall is Hall.CRUISE]
        assert [a.event_id for a in again] == [a.event_id for a in alerts]
        assert sorted(await read_active_alerts(client, Hall.CRUISE)) == sorted(kinds)
        later = [e for e in await events(client, STREAM_LANE_COMMANDS) if e.hall is Hall.CRUISE]
        assert len({e.lane_id for e in later if e.action == "open"}) == len(
            [e for e in later if e.action == "open"]
        )

        # Once ready, the ordered lanes are open.
        await asyncio.gather(*(m.control_once(now + timedelta(minutes=5)) for m in monitors))
        lanes = await read_lanes(client, Hall.CRUISE)
        assert all(lanes[lane].status == "open" for lane in opened)
    finally:
        await pubsub.aclose()
        for m in monitors:
            await m.controller.release_leases()
            await m.redis.aclose()
