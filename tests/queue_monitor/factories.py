"""Event factories and stream helpers for the queue monitor tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    encode_event,
)
from queue_monitor.settings import MonitorSettings

# A fixed past instant: waits must come from the events' own timestamps, not from arrival time.
T0 = datetime(2024, 5, 15, 8, 0, tzinfo=UTC)


def fast_settings(name: str, **overrides: Any) -> MonitorSettings:
    """Settings with short intervals, so tests run in milliseconds."""
    values: dict[str, Any] = {
        "consumer_name": name,
        "stats_interval_s": 0.05,
        "block_ms": 50,
        "batch_size": 10,
        "reclaim_idle_ms": 60_000,
        "reclaim_interval_s": 0.05,
        "backoff_max_s": 0.2,
        "heartbeat_ttl_s": 5,
    }
    values.update(overrides)
    return MonitorSettings(**values)


def joined(ref: str, at: datetime, hall: Hall = Hall.AIRPORT) -> QueueJoined:
    return QueueJoined(hall=hall, traveller_ref=ref, counter_id="entrance-1", at=at)


def served(ref: str, at: datetime, hall: Hall = Hall.AIRPORT) -> QueueServed:
    return QueueServed(hall=hall, traveller_ref=ref, lane_id="egate-1", at=at)


def outcome(
    outcome: Outcome, reasons: list[ReasonCode] | None = None, hall: Hall = Hall.AIRPORT
) -> ClearanceOutcome:
    return ClearanceOutcome(
        clearance_id="c",
        hall=hall,
        lane_id="egate-1",
        outcome=outcome,
        reasons=reasons or [],
        at=T0,
    )


async def add(redis: Redis, event: QueueJoined | QueueServed | ClearanceOutcome) -> str:
    stream = STREAM_CLEARANCES if isinstance(event, ClearanceOutcome) else STREAM_QUEUE
    entry_id = await redis.xadd(stream, encode_event(event))  # type: ignore[arg-type]
    return str(entry_id)


async def pending_count(redis: Redis, stream: str = STREAM_QUEUE) -> int:
    summary = await redis.xpending(stream, GROUP_QUEUE_MONITOR)
    return int(summary["pending"])


@dataclass(frozen=True)
class Visit:
    ref: str
    joined_at: datetime
    wait_s: float

    @property
    def served_at(self) -> datetime:
        return self.joined_at + timedelta(seconds=self.wait_s)


def visits(n: int) -> list[Visit]:
    """``n`` travellers whose waits are a permutation of 10, 20, ..., 10 n seconds."""
    return [
        Visit(f"t{i:04d}", T0 + timedelta(seconds=5 * i), 10.0 * ((i * 37) % n + 1))
        for i in range(n)
    ]


def expected_p95(waits: list[float]) -> float:
    """Nearest-rank p95 computed independently, by hand."""
    ordered = sorted(waits)
    rank = -(-95 * len(ordered) // 100)  # ceil(0.95 n) in integers
    return ordered[rank - 1]


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 10.0) -> None:
    """Poll ``check()`` until it is true; fail the test after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s} s")
        await asyncio.sleep(0.02)
