"""Duplicated and reordered events, duplicated requests, and kiosk clocks that are off.

Real processes: a redis-server, two ``bordergate monitor`` processes sharing the consumer group,
and ``bordergate backend`` on a SQLite records store. The test plays the kiosks and counters.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
import redis

from bordergate.clearance_api import ClearanceRequest, FaceResult
from bordergate.contracts import (
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    ClearanceOutcome,
    Event,
    Hall,
    Outcome,
    QueueJoined,
    QueueServed,
    ReasonCode,
    WaitStats,
    arrivals_key,
    clearance_counts_key,
    encode_event,
    queue_waiting_key,
    wait_samples_key,
    wait_stats_key,
)
from queue_monitor.waits import nearest_rank_percentile
from tests.conftest import ReliabilityCase
from tests.reliability.cluster import (
    ApiKiosk,
    Cluster,
    citizen_document,
    group_info,
    sample_refs,
    stream_events,
    wait_until,
)

TRAVELLERS = 80
MONITOR_ENV = {"BORDERGATE_MONITOR_BATCH_SIZE": "7", "BORDERGATE_MONITOR_STATS_INTERVAL_S": "0.2"}


def caught_up(client: redis.Redis) -> bool:
    infos = [group_info(client, s) for s in (STREAM_QUEUE, STREAM_CLEARANCES)]
    return all(i and i["lag"] == 0 and i["pending"] == 0 for i in infos)


def stats_of(client: redis.Redis) -> WaitStats | None:
    raw = client.get(wait_stats_key(Hall.AIRPORT))
    return WaitStats.model_validate_json(cast(str, raw)) if raw else None


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.reliability("faults")
async def test_duplicated_and_reordered_events_leave_the_statistics_exact(
    make_cluster: Callable[..., Cluster], reliability_case: ReliabilityCase
) -> None:
    rng = random.Random(8)
    base = datetime.now(UTC) - timedelta(minutes=40)
    waits: dict[str, float] = {}
    outcomes: Counter[str] = Counter()
    queue: list[Event] = []
    clearances: list[Event] = []
    served_first = 0
    for i in range(TRAVELLERS):
        ref = f"r{i:03d}"
        served_at = base + timedelta(seconds=20 * i)
        wait = float(rng.randint(10, 1800))
        waits[ref] = wait
        joined = QueueJoined(hall=Hall.AIRPORT, traveller_ref=ref, counter_id="C1",
                             at=served_at - timedelta(seconds=wait))  # fmt: skip
        served = QueueServed(hall=Hall.AIRPORT, traveller_ref=ref, lane_id="E1", at=served_at)
        if rng.random() < 0.3:  # the gate's event overtakes the counter's
            queue += [served, joined]
            served_first += 1
        else:
            queue += [joined, served]
        if i % 10 == 0:  # passed the counter again (new event id, later): one arrival, one wait
            again = {"event_id": uuid.uuid4().hex, "at": joined.at + timedelta(seconds=5)}
            queue.append(joined.model_copy(update=again))
        if i % 10 == 5:  # the gate re-sent its event under a new id after the pair was made
            queue.append(served.model_copy(update={"event_id": uuid.uuid4().hex}))
        outcome = Outcome.ADMIT if i % 3 else Outcome.REFER
        outcomes[str(outcome)] += 1
        clearances.append(ClearanceOutcome(
            hall=Hall.AIRPORT, clearance_id=f"c{i:03d}", lane_id="E1", outcome=outcome,
            reasons=[] if outcome is Outcome.ADMIT else [ReasonCode.FACE_MISMATCH], at=served_at,
        ))  # fmt: skip
    rng.shuffle(clearances)  # clearance events in any order
    # Duplicates: the same event (same id) delivered again, soon after or at the very end.
    dup_queue = rng.sample(queue, len(queue) // 4)
    dup_clear = rng.sample(clearances, len(clearances) // 4)
    for event in dup_queue[: len(dup_queue) // 2]:
        queue.insert(queue.index(event) + rng.randint(1, 6), event)
    queue += dup_queue[len(dup_queue) // 2 :]
    clearances += dup_clear
    reliability_case.injects(
        f"{TRAVELLERS} travellers' events into two monitors sharing the group: {served_first} "
        "served-before-joined, every tenth traveller passing the counter twice and every tenth "
        "gate re-sending its served event under a new id, clearance events shuffled, and "
        f"{len(dup_queue) + len(dup_clear)} events delivered twice with the same id"
    )

    c = make_cluster()
    c.redis.start()
    sync = c.redis.client()
    c.start_monitor("m1", **MONITOR_ENV)
    c.start_monitor("m2", **MONITOR_ENV)
    await asyncio.to_thread(wait_until, lambda: bool(group_info(sync, STREAM_CLEARANCES)), 15)
    for stream, events in ((STREAM_QUEUE, queue), (STREAM_CLEARANCES, clearances)):
        for start in range(0, len(events), 20):
            with sync.pipeline(transaction=False) as pipe:
                for event in events[start : start + 20]:
                    pipe.xadd(stream, cast(Any, encode_event(event)))
                pipe.execute()
    await asyncio.to_thread(wait_until, lambda: caught_up(sync), 20, 0.05)

    def final() -> bool:
        stats = stats_of(sync)
        return stats is not None and stats.samples == TRAVELLERS and stats.waiting_now == 0

    await asyncio.to_thread(wait_until, final, 10)
    c.stop("m1")
    c.stop("m2")

    members = cast(list[str], sync.zrange(wait_samples_key(Hall.AIRPORT), 0, -1))
    refs = sample_refs(sync, wait_samples_key(Hall.AIRPORT))
    assert len(refs) == len(set(refs)) == TRAVELLERS
    assert {m.partition("|")[2]: float(m.partition("|")[0]) for m in members} == waits
    assert sync.zcard(queue_waiting_key(Hall.AIRPORT)) == 0
    arrivals = cast(dict[str, str], sync.hgetall(arrivals_key(Hall.AIRPORT)))
    assert sum(int(v) for v in arrivals.values()) == TRAVELLERS
    counts = cast(dict[str, str], sync.hgetall(clearance_counts_key(Hall.AIRPORT)))
    assert int(counts["total"]) == TRAVELLERS
    assert {k: int(counts[f"outcome:{k}"]) for k in outcomes} == dict(outcomes)
    stats = stats_of(sync)
    assert stats is not None
    assert stats.p95_wait_s == nearest_rank_percentile(waits.values(), 95)
    sync.close()
    reliability_case.asserts(
        "the statistics equal those of the clean sequence: each traveller's wait measured once "
        "with its true length (served-before-joined paired when the joined came), arrivals "
        "counted once per traveller, each clearance outcome counted once, nobody left waiting, "
        "and the published p95 equal to the p95 of the true waits"
    )
    reliability_case.measured("events sent", len(queue) + len(clearances))
    reliability_case.measured("of which duplicates (same id)", len(dup_queue) + len(dup_clear))


def request_body(kiosk_lane: str, number: str) -> ClearanceRequest:
    return ClearanceRequest(
        request_id=uuid.uuid4(), hall=Hall.AIRPORT, lane_id=kiosk_lane,
        arrival_time=datetime.now(UTC), document=citizen_document(number),
        face=FaceResult(matched=True, score=0.9, liveness="passed"),
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.reliability("faults")
async def test_duplicated_clearance_requests_are_recorded_and_published_once(
    make_cluster: Callable[..., Cluster], reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "the same clearance request (same request_id) sent again after its answer, sent 8 "
        "times at once, and re-used with a different body"
    )
    c = make_cluster()
    c.redis.start()
    token = c.register_device("airport", "D1")
    c.start_backend()
    c.start_monitor("m1")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=c.backend_url, headers=headers, timeout=10) as http:
        first = request_body("D1", "D0000001")
        answers = [await http.post("/v1/clearances", content=first.model_dump_json())]
        answers.append(await http.post("/v1/clearances", content=first.model_dump_json()))
        burst = request_body("D1", "D0000002")
        answers += await asyncio.gather(
            *(http.post("/v1/clearances", content=burst.model_dump_json()) for _ in range(8))
        )
        changed = first.model_copy(update={"face": FaceResult(matched=False, score=0.1)})
        conflict = await http.post("/v1/clearances", content=changed.model_dump_json())
    assert [a.status_code for a in answers] == [200] * 10
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert answers[0].json() == answers[1].json()
    assert len({a.json()["clearance_id"] for a in answers[2:]}) == 1
    assert conflict.status_code == 409
    rows = c.query("SELECT request_id, outcome, face_matched FROM clearances")
    assert len(rows) == 2
    assert all(outcome == "admit" and matched for _, outcome, matched in rows)
    sync = c.redis.client()
    await asyncio.to_thread(
        wait_until,
        lambda: (
            caught_up(sync)
            and int(sync.hget(clearance_counts_key(Hall.AIRPORT), "total") or 0) >= 2
        ),
        15,
    )
    published = [e for e in stream_events(sync, STREAM_CLEARANCES) if e.type == "clearance.outcome"]
    assert len(published) == 2
    assert int(cast(str, sync.hget(clearance_counts_key(Hall.AIRPORT), "total"))) == 2
    sync.close()
    reliability_case.asserts(
        "one record and one clearance event per request_id: the retry and all 8 concurrent "
        "copies got the same decision, the re-used request_id with another body got 409 and "
        "changed nothing, and the monitor counted 2 clearances"
    )


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.reliability("faults")
async def test_kiosk_clock_skew_is_judged_on_the_backend_clock(
    make_cluster: Callable[..., Cluster], reliability_case: ReliabilityCase
) -> None:
    offsets = [-600.0, -300.0, -30.0, 0.0, 30.0, 90.0, 300.0, 600.0]
    reliability_case.injects(
        "kiosk clocks off by " + ", ".join(f"{o:+.0f} s" for o in offsets) + " (tolerance 120 s)"
    )
    c = make_cluster()
    c.redis.start()
    token = c.register_device("airport", "K9")
    c.start_backend(BORDERGATE_CLOCK_SKEW_TOLERANCE_S="120")
    kiosk = ApiKiosk(c.backend_url, token, c.redis.url, hall=Hall.AIRPORT, lane="K9")
    sent: list[tuple[float, datetime]] = []
    try:
        for offset in offsets:
            sent.append((offset, datetime.now(UTC)))
            await kiosk.traveller(clock_offset_s=offset)
    finally:
        await kiosk.aclose()
    rows = {
        str(r[0]).replace("-", ""): r
        for r in c.query(
            "SELECT request_id, outcome, reasons, decided_at, arrival_time, explanation "
            "FROM clearances"
        )
    }
    for (offset, at), outcome in zip(sent, kiosk.outcomes, strict=True):
        _, recorded, reasons, decided_at, arrival_time, explanation = rows[outcome.request_id.hex]
        reasons = json.loads(reasons) if isinstance(reasons, str) else reasons
        explanation = json.loads(explanation) if isinstance(explanation, str) else explanation
        decided = datetime.fromisoformat(str(decided_at)).replace(tzinfo=UTC)
        claimed = datetime.fromisoformat(str(arrival_time)).replace(tzinfo=UTC)
        assert abs((decided - at).total_seconds()) < 5, "decided on the kiosk's clock"
        assert abs((claimed - decided).total_seconds() - offset) < 5  # the claim is kept
        assert abs(explanation["clock"]["kiosk_skew_s"] - offset) < 5
        if abs(offset) <= 120:
            assert outcome.outcome is Outcome.ADMIT, (offset, outcome)
            assert recorded == "admit"
        else:
            assert outcome.outcome is Outcome.REFER, (offset, outcome)
            assert outcome.reasons[0] is ReasonCode.DEVICE_ERROR
            assert reasons[0] == "device-error"
            assert "kiosk clock off by" in explanation["device_clock"]
    reliability_case.asserts(
        "the backend decided every request on its own clock (decided_at within seconds of the "
        "backend's time, whatever the kiosk claimed) and kept the kiosk's claim beside it; "
        "within 120 s the citizen was admitted, beyond it the traveller was referred with "
        "device-error and the skew written in the explanation for the officer"
    )
