"""Queue monitor killed (SIGKILL) mid-stream: restarted under its name, or replaced by a second.

Real processes: a redis-server and ``bordergate monitor`` processes. The test is the kiosks: it
adds queue and clearance events at a steady rate, with waits it chose, so every figure the
monitors publish can be checked exactly. Besides the real kill (whatever the monitor had read
and not acknowledged stays pending), the test replays the worst moment deterministically: it
reads entries as the dead consumer, applies them as the monitor does, and does not acknowledge
them, as if the monitor died between applying and XACK. Those come back to a monitor and must
change nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis
from redis.asyncio import Redis

from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    ClearanceOutcome,
    Event,
    Hall,
    LaneState,
    Outcome,
    QueueJoined,
    QueueServed,
    ReasonCode,
    WaitStats,
    arrivals_key,
    clearance_counts_key,
    controller_lease_key,
    decode_event,
    encode_event,
    lane_state_key,
    queue_waiting_key,
    wait_samples_key,
    wait_stats_key,
)
from bordergate.redis_conn import open_redis
from queue_monitor.settings import MonitorSettings
from queue_monitor.store import SharedWaitState
from queue_monitor.waits import nearest_rank_percentile
from tests.conftest import ReliabilityCase
from tests.reliability.cluster import Cluster, group_info, log_events, sample_refs, wait_until

TRAVELLERS = 360
STILL_WAITING = 8  # joined at the end and never served: must stay in waiting_now
INJECTED = 12  # entries applied by the "dead" consumer and never acknowledged

MONITOR_ENV = {
    "BORDERGATE_MONITOR_BATCH_SIZE": "20",
    "BORDERGATE_MONITOR_RECLAIM_IDLE_MS": "1000",
    "BORDERGATE_MONITOR_RECLAIM_INTERVAL_S": "0.5",
    "BORDERGATE_MONITOR_STATS_INTERVAL_S": "0.2",
    "BORDERGATE_MONITOR_DECISION_INTERVAL_S": "1",
    "BORDERGATE_MONITOR_LEASE_TTL_S": "2",
}


@dataclass
class Traffic:
    """The events of a known hall day: traveller i waited ``wait(i)`` seconds."""

    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=30))
    waits: dict[str, float] = field(default_factory=dict)
    clearances: Counter[str] = field(default_factory=Counter)

    @staticmethod
    def wait(i: int) -> float:
        return 30.0 + (i * 37) % 1400  # 30 s .. 24 min, spread

    def traveller(self, i: int) -> list[Event]:
        ref = f"t{i:05d}"
        served_at = self.base + timedelta(seconds=2 * i)
        joined = QueueJoined(
            hall=Hall.AIRPORT, traveller_ref=ref, counter_id="C1",
            at=served_at - timedelta(seconds=self.wait(i)),
        )  # fmt: skip
        if i >= TRAVELLERS:
            return [joined]
        served = QueueServed(hall=Hall.AIRPORT, traveller_ref=ref, lane_id="E1", at=served_at)
        outcome = Outcome.ADMIT if i % 4 else Outcome.REFER
        cleared = ClearanceOutcome(
            hall=Hall.AIRPORT, clearance_id=f"c{i:05d}", lane_id="E1", outcome=outcome,
            reasons=[] if outcome is Outcome.ADMIT else [ReasonCode.FACE_MISMATCH], at=served_at,
        )  # fmt: skip
        self.waits[ref] = self.wait(i)
        self.clearances[str(outcome)] += 1
        return [joined, served, cleared]

    async def produce(self, client: Redis, seconds: float) -> None:
        """All travellers, evenly over ``seconds``, as the kiosks and counters would."""
        total = TRAVELLERS + STILL_WAITING
        step = 6
        for start in range(0, total, step):
            async with client.pipeline(transaction=False) as pipe:
                for i in range(start, min(start + step, total)):
                    for event in self.traveller(i):
                        stream = STREAM_CLEARANCES if event.type == "clearance.outcome" else (
                            STREAM_QUEUE
                        )  # fmt: skip
                        pipe.xadd(stream, cast(Any, encode_event(event)))
                await pipe.execute()
            await asyncio.sleep(seconds * step / total)


async def die_between_apply_and_ack(client: Redis, consumer: str, count: int) -> int:
    """Read ``count`` new entries as ``consumer``, apply them as the monitor does, never XACK."""
    state = SharedWaitState(client, MonitorSettings(consumer_name=consumer, redis_url=None))
    applied = 0
    deadline = time.monotonic() + 5
    while applied < count and time.monotonic() < deadline:  # a live monitor competes for them
        reply = await client.xreadgroup(
            GROUP_QUEUE_MONITOR, consumer, {STREAM_QUEUE: ">"}, count=count - applied, block=200
        )
        batches = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], reply or [])
        for _, entries in batches:
            for _, fields in entries:
                await state.apply(decode_event(fields))
                applied += 1
    return applied


def final_stats(client: redis.Redis) -> bool:
    """The monitor published statistics that include every event (call while it runs)."""
    raw = client.get(wait_stats_key(Hall.AIRPORT))
    stats = WaitStats.model_validate_json(cast(str, raw)) if raw else None
    return stats is not None and stats.samples == TRAVELLERS and stats.waiting_now == STILL_WAITING


def caught_up(client: redis.Redis) -> bool:
    infos = [group_info(client, s) for s in (STREAM_QUEUE, STREAM_CLEARANCES)]
    return all(i and i["lag"] == 0 and i["pending"] == 0 for i in infos)


def pending_of(client: redis.Redis, consumer: str) -> int:
    total = 0
    for stream in (STREAM_QUEUE, STREAM_CLEARANCES):
        for info in client.xinfo_consumers(stream, GROUP_QUEUE_MONITOR):
            if info["name"] == consumer:
                total += int(info["pending"])
    return total


def check_kept(client: redis.Redis, traffic: Traffic, reliability_case: ReliabilityCase) -> None:
    """The shared state equals what the traffic says, exactly: nothing lost, nothing twice."""
    members = cast(list[str], client.zrange(wait_samples_key(Hall.AIRPORT), 0, -1))
    refs = sample_refs(client, wait_samples_key(Hall.AIRPORT))
    assert len(refs) == len(set(refs)), "a traveller's wait was counted twice"
    assert set(refs) == set(traffic.waits)
    measured = {m.partition("|")[2]: float(m.partition("|")[0]) for m in members}
    assert measured == traffic.waits
    waiting = cast(list[str], client.zrange(queue_waiting_key(Hall.AIRPORT), 0, -1))
    assert sorted(waiting) == [f"t{i:05d}" for i in range(TRAVELLERS, TRAVELLERS + STILL_WAITING)]
    arrivals = cast(dict[str, str], client.hgetall(arrivals_key(Hall.AIRPORT)))
    assert sum(int(v) for v in arrivals.values()) == TRAVELLERS + STILL_WAITING
    counts = cast(dict[str, str], client.hgetall(clearance_counts_key(Hall.AIRPORT)))
    assert int(counts["total"]) == TRAVELLERS
    assert {k: int(counts[f"outcome:{k}"]) for k in traffic.clearances} == dict(traffic.clearances)
    expected_p95 = nearest_rank_percentile(traffic.waits.values(), 95)
    stats = WaitStats.model_validate_json(cast(str, client.get(wait_stats_key(Hall.AIRPORT))))
    assert stats.p95_wait_s == expected_p95
    assert stats.waiting_now == STILL_WAITING
    reliability_case.asserts(
        f"every one of the {TRAVELLERS} waits was measured exactly once with its true length "
        f"(the published p95 equals the p95 of the waits sent), the {STILL_WAITING} travellers "
        "never served are still waiting, arrivals and clearance outcomes are counted once each"
    )


def lease_holders(client: redis.Redis) -> set[str]:
    return {cast(str, client.get(controller_lease_key(hall)) or "") for hall in Hall}


def check_lanes(client: redis.Redis, alive: str, dead: set[str]) -> None:
    """Every hall's lanes parse, and its lease is held by ``alive`` (a consumer name), under
    none of the ``dead`` tokens (a lease token is ``name#random``, new at each start)."""
    for hall in Hall:
        raw = cast(dict[str, str], client.hgetall(lane_state_key(hall)))
        lanes = {lane_id: LaneState.model_validate_json(v) for lane_id, v in raw.items()}
        assert lanes, f"no lanes for {hall}"
        assert all(s.lane_id == lane_id and s.hall is hall for lane_id, s in lanes.items())
        holder = cast(str, client.get(controller_lease_key(hall)) or "")
        assert holder.startswith(f"{alive}#"), holder
        assert holder not in dead


def lanes_ok(client: redis.Redis, alive: str, dead: set[str]) -> bool:
    try:
        check_lanes(client, alive, dead)
    except AssertionError:
        return False
    return True


@dataclass
class Killed:
    producer: asyncio.Task[None]
    pending: int
    """Entries the victim had read and not acknowledged when it died."""
    leases: set[str]
    """The victim's lease tokens when it died."""


async def run_until_killed(c: Cluster, client: Redis, traffic: Traffic, victim: str) -> Killed:
    """Start the traffic; SIGKILL ``victim`` once the group has read a good part of it."""
    producer = asyncio.create_task(traffic.produce(client, 4.0))
    sync = c.redis.client()
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: (group_info(sync, STREAM_QUEUE).get("entries-read") or 0) >= 150,
            20,
            0.02,
        )
        c.kill(victim)
        leases = {h for h in lease_holders(sync) if h.startswith(f"{victim}#")}
        return Killed(producer, pending_of(sync, victim), leases)
    finally:
        sync.close()


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.reliability("faults")
async def test_monitor_killed_and_restarted_counts_nothing_twice(
    make_cluster: Callable[..., Cluster], reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "the only queue monitor SIGKILLed mid-stream while events keep arriving; "
        f"{INJECTED} entries applied but never acknowledged under its name (a death between "
        "apply and XACK); then the monitor restarted under the same consumer name"
    )
    c = make_cluster()
    c.redis.start()
    client = open_redis(c.redis.url)
    traffic = Traffic()
    try:
        c.start_monitor("m1", **MONITOR_ENV)
        killed = await run_until_killed(c, client, traffic, "m1")
        pending_at_kill = killed.pending
        injected = await die_between_apply_and_ack(client, "m1", INJECTED)
        await asyncio.sleep(0.5)
        restarted = time.monotonic()
        c.start_monitor("m1", **MONITOR_ENV)
        await killed.producer
        sync = c.redis.client()
        await asyncio.to_thread(wait_until, lambda: caught_up(sync), 30, 0.05)
        catch_up_s = time.monotonic() - restarted
        await asyncio.to_thread(wait_until, lambda: lanes_ok(sync, "m1", killed.leases), 10, 0.2)
        await asyncio.to_thread(wait_until, lambda: final_stats(sync), 10)
        c.stop("m1")
    finally:
        await client.aclose()

    assert injected == INJECTED
    counts = log_events(c.log("m1"), "monitor_stopped")[-1]["counts"]
    own = sum(e["entries"] for e in log_events(c.log("m1"), "own_pending_handled"))
    assert own >= INJECTED + pending_at_kill
    assert counts.get("duplicate", 0) >= INJECTED
    check_kept(sync, traffic, reliability_case)
    reliability_case.asserts(
        f"the restarted monitor re-read its own {own} pending entries first; the {INJECTED} "
        "already applied were recognised by event id and changed nothing"
    )
    # The lease of the dead incarnation expired; the restarted one decides and its lanes parse.
    assert killed.leases, "the only monitor held no lease when killed"
    reliability_case.asserts(
        "lane state consistent afterwards: every hall's lanes parse, and the controller lease "
        "expired from the dead incarnation and is held by the restarted one"
    )
    sync.close()
    reliability_case.measured("entries pending at the monitor when killed", pending_at_kill)
    reliability_case.measured("duplicates suppressed after the restart", counts["duplicate"])
    reliability_case.measured(
        "restart to caught up (events still arriving)", f"{catch_up_s:.2f}", "s"
    )


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.reliability("faults")
async def test_second_monitor_takes_over_a_crashed_ones_pending_entries(
    make_cluster: Callable[..., Cluster], reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "two queue monitors share the consumer group; one is SIGKILLed mid-stream with "
        f"entries pending, {INJECTED} of them already applied, and never comes back"
    )
    c = make_cluster()
    c.redis.start()
    client = open_redis(c.redis.url)
    traffic = Traffic()
    try:
        c.start_monitor("m1", **MONITOR_ENV)
        sync = c.redis.client()
        # m1 leads the lane control (so the kill also tests the lease passing on).
        await asyncio.to_thread(
            wait_until, lambda: all(h.startswith("m1#") for h in lease_holders(sync)), 15
        )
        c.start_monitor("m2", **MONITOR_ENV)
        killed = await run_until_killed(c, client, traffic, "m1")
        killed_at = time.monotonic()
        pending_at_kill = killed.pending
        injected = await die_between_apply_and_ack(client, "m1", INJECTED)
        await killed.producer
        await asyncio.to_thread(
            wait_until, lambda: caught_up(sync) and pending_of(sync, "m1") == 0, 30, 0.05
        )
        takeover_s = time.monotonic() - killed_at
        await asyncio.to_thread(wait_until, lambda: lanes_ok(sync, "m2", killed.leases), 10, 0.1)
        lease_s = time.monotonic() - killed_at
        await asyncio.to_thread(wait_until, lambda: final_stats(sync), 10)
        c.stop("m2")
    finally:
        await client.aclose()

    assert injected == INJECTED
    counts = log_events(c.log("m2"), "monitor_stopped")[-1]["counts"]
    assert counts.get("reclaimed", 0) >= INJECTED + pending_at_kill
    assert counts.get("duplicate", 0) >= INJECTED
    assert pending_of(sync, "m1") == 0
    assert killed.leases, "m1 held no lease when killed"
    reliability_case.asserts(
        f"the surviving monitor took over the dead one's pending entries ({counts['reclaimed']} "
        f"reclaimed with XAUTOCLAIM, none left at the dead consumer); the {INJECTED} already "
        "applied changed nothing"
    )
    check_kept(sync, traffic, reliability_case)
    # (lanes_ok held before m2 stopped; a clean stop releases the lease)
    reliability_case.asserts(
        "lane state consistent afterwards: every hall's lanes parse and the lane controller's "
        "lease passed to the surviving monitor"
    )
    sync.close()
    reliability_case.measured("entries pending at the killed monitor", pending_at_kill)
    reliability_case.measured(
        "kill to all pending taken over and caught up", f"{takeover_s:.2f}", "s"
    )
    reliability_case.measured("kill to lane-control lease taken over", f"{lease_s:.2f}", "s")
