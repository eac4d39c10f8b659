"""The queue monitors' shared state in Redis, and how one event changes it.

Several monitors may run side by side, so a traveller's ``queue.joined`` and ``queue.served``
can be applied by different processes, in either order, and any event can be delivered more
than once (a redelivery after a crash, or a producer's retry). Nothing about a traveller is
therefore kept in memory. Each event is applied in one optimistic Redis transaction
(WATCH the event's processed marker and the traveller's visit hash, read, MULTI ... EXEC,
retry on conflict) that both changes the state and sets the processed marker, so:

- an event whose marker exists is a duplicate and changes nothing (exactly-once application);
- a joined and a served of the same traveller applied concurrently by two monitors conflict on
  the visit hash, one retries and sees the other's write: the pair always meets.

Per hall (keys in ``bordergate.contracts``):
- ``queue_visit_key(hall, ref)``: hash ``joined_at`` / ``served_at`` (epoch s) until paired,
  then also ``wait_s`` (so a late duplicate with a new event id cannot pair twice, and an earlier
  joined or served delivered late replaces the sample: the earliest of each counts, in any
  delivery order); TTL ``visit_ttl_s``.
  A served that arrives before its joined is parked here as ``served_at``.
- ``queue_waiting_key(hall)``: travellers joined and not yet served (``waiting_now``).
- ``wait_samples_key(hall)``: one member per paired traveller, score = served time.
- ``clearance_counts_key(hall)``: outcome and reason counters.
- ``arrivals_key(hall)``: travellers entering the queue per minute (field = epoch minute of the
  joined event), incremented in the joined event's transaction when the visit is first seen
  joining (a second joined of the same visit is not counted); trimmed to ``ARRIVALS_KEEP_MIN``.

Only WATCH/MULTI is used (no Lua), so the embedded fakeredis needs no Lua runtime. The keys of one
transaction span several hash slots: on Redis Cluster they would need a common hash tag.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    ClearanceOutcome,
    Event,
    Hall,
    QueueJoined,
    QueueServed,
    WaitStats,
    arrivals_key,
    clearance_counts_key,
    processed_key,
    queue_visit_key,
    queue_waiting_key,
    wait_samples_key,
)
from queue_monitor.settings import MonitorSettings
from queue_monitor.waits import summarize

log = structlog.get_logger("queue_monitor.store")

MAX_TRANSACTION_ATTEMPTS = 50
ARRIVALS_KEEP_MIN = 120  # minutes of per-minute arrival counts kept (the controller reads 60)
ARRIVALS_TTL_S = 3 * 3600  # the whole hash expires when a hall sees nobody for this long


class Applied(StrEnum):
    """What applying one event did."""

    WAITING = "waiting"  # joined recorded; the traveller is in the queue
    PARKED = "parked"  # served recorded before its joined; completes when joined arrives
    PAIRED = "paired"  # a wait sample was recorded
    COUNTED = "counted"  # clearance outcome counted
    DUPLICATE = "duplicate"  # already applied (same event id): nothing changed
    IGNORED = "ignored"  # nothing to do (an event of another type; a visit already paired)


class TransactionConflictError(RuntimeError):
    """A transaction kept conflicting with other writers (retried, then given up)."""


def sample_member(wait_s: float, traveller_ref: str) -> str:
    """Sorted-set member of one wait sample: ``"<wait_s>|<traveller_ref>"``."""
    return f"{wait_s!r}|{traveller_ref}"


def sample_wait(member: str) -> float:
    """The wait in seconds of a sample member."""
    return float(member.partition("|")[0])


def epoch(at: datetime) -> float:
    return at.timestamp()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _text_dict(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _multi(pipe: Pipeline) -> None:
    cast(Any, pipe).multi()  # redis-py leaves Pipeline.multi untyped


async def _reset(pipe: Pipeline) -> None:
    await cast(Any, pipe).reset()


class SharedWaitState:
    """Applies queue and clearance events to the shared state and reads statistics from it."""

    def __init__(
        self, redis: Redis, settings: MonitorSettings, group: str = GROUP_QUEUE_MONITOR
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._group = group

    # ---- applying events ----------------------------------------------------------------------

    async def apply(self, event: Event) -> Applied:
        """Apply one decoded event exactly once (idempotent on its ``event_id``)."""
        if isinstance(event, QueueJoined | QueueServed):
            return await self.apply_queue_event(event)
        if isinstance(event, ClearanceOutcome):
            return await self.apply_clearance(event)
        return Applied.IGNORED

    async def apply_queue_event(self, event: QueueJoined | QueueServed) -> Applied:
        marker = processed_key(self._group, event.event_id)
        visit = queue_visit_key(event.hall, event.traveller_ref)

        async def body(pipe: Pipeline) -> Applied:
            if await pipe.exists(marker):
                await _reset(pipe)
                return Applied.DUPLICATE
            state = _text_dict(await pipe.hgetall(visit))
            if isinstance(event, QueueJoined):
                return self._queue_joined(pipe, event, marker, visit, state)
            return self._queue_served(pipe, event, marker, visit, state)

        return await self._transact((marker, visit), body)

    def _queue_joined(
        self, pipe: Pipeline, event: QueueJoined, marker: str, visit: str, state: dict[str, str]
    ) -> Applied:
        at = epoch(event.at)
        _multi(pipe)
        self._mark(pipe, marker)
        if "wait_s" in state:  # already paired under another joined event id
            return self._repair(pipe, event.hall, event.traveller_ref, visit, state, joined_at=at)
        if "joined_at" in state:  # a second joined of the same visit: keep the earliest
            at = min(at, float(state["joined_at"]))
        else:  # the traveller entering the hall: counted once per visit
            arrivals = arrivals_key(event.hall)
            pipe.hincrby(arrivals, str(int(at // 60)), 1)
            pipe.expire(arrivals, ARRIVALS_TTL_S)
        if "served_at" in state:
            self._pair(pipe, event.hall, event.traveller_ref, visit, at, float(state["served_at"]))
            return Applied.PAIRED
        pipe.hset(visit, "joined_at", repr(at))
        pipe.expire(visit, self._settings.visit_ttl_s)
        pipe.zadd(queue_waiting_key(event.hall), {event.traveller_ref: at})
        return Applied.WAITING

    def _queue_served(
        self, pipe: Pipeline, event: QueueServed, marker: str, visit: str, state: dict[str, str]
    ) -> Applied:
        at = epoch(event.at)
        _multi(pipe)
        self._mark(pipe, marker)
        if "wait_s" in state:  # a second served of an already paired visit
            return self._repair(pipe, event.hall, event.traveller_ref, visit, state, served_at=at)
        if "joined_at" in state:
            self._pair(pipe, event.hall, event.traveller_ref, visit, float(state["joined_at"]), at)
            return Applied.PAIRED
        if "served_at" in state:
            at = min(at, float(state["served_at"]))
        pipe.hset(visit, "served_at", repr(at))
        pipe.expire(visit, self._settings.visit_ttl_s)
        return Applied.PARKED

    def _repair(
        self,
        pipe: Pipeline,
        hall: Hall,
        traveller_ref: str,
        visit: str,
        state: dict[str, str],
        *,
        joined_at: float | None = None,
        served_at: float | None = None,
    ) -> Applied:
        """A second joined or served of a paired visit: the earliest of each counts, whatever
        order they were delivered in, so an earlier one replaces the sample; a later is ignored."""
        paired_served = float(state["served_at"])
        paired_joined = float(state.get("joined_at", paired_served - float(state["wait_s"])))
        new_joined = min(joined_at, paired_joined) if joined_at is not None else paired_joined
        new_served = min(served_at, paired_served) if served_at is not None else paired_served
        if (new_joined, new_served) == (paired_joined, paired_served):
            return Applied.IGNORED
        pipe.zrem(wait_samples_key(hall), sample_member(float(state["wait_s"]), traveller_ref))
        self._pair(pipe, hall, traveller_ref, visit, new_joined, new_served)
        return Applied.PAIRED

    def _pair(
        self,
        pipe: Pipeline,
        hall: Hall,
        traveller_ref: str,
        visit: str,
        joined_at: float,
        served_at: float,
    ) -> None:
        raw = served_at - joined_at
        wait_s = max(raw, 0.0)
        if raw < 0:
            log.warning(
                "negative_wait_clamped", hall=str(hall), traveller_ref=traveller_ref, wait_s=raw
            )
        samples = wait_samples_key(hall)
        pipe.zadd(samples, {sample_member(wait_s, traveller_ref): served_at})
        pipe.zremrangebyscore(samples, "-inf", served_at - self._settings.window_s)
        pipe.zrem(queue_waiting_key(hall), traveller_ref)
        pipe.delete(visit)
        pipe.hset(
            visit,
            mapping={
                "wait_s": repr(wait_s),
                "served_at": repr(served_at),
                "joined_at": repr(joined_at),
            },
        )
        pipe.expire(visit, self._settings.visit_ttl_s)

    async def apply_clearance(self, event: ClearanceOutcome) -> Applied:
        marker = processed_key(self._group, event.event_id)
        counts = clearance_counts_key(event.hall)

        async def body(pipe: Pipeline) -> Applied:
            if await pipe.exists(marker):
                await _reset(pipe)
                return Applied.DUPLICATE
            _multi(pipe)
            self._mark(pipe, marker)
            pipe.hincrby(counts, "total", 1)
            pipe.hincrby(counts, f"outcome:{event.outcome}", 1)
            for reason in sorted(set(event.reasons)):
                pipe.hincrby(counts, f"reason:{reason}", 1)
            return Applied.COUNTED

        return await self._transact((marker,), body)

    def _mark(self, pipe: Pipeline, marker: str) -> None:
        pipe.set(marker, "1", ex=self._settings.processed_ttl_s)

    async def _transact(
        self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[Applied]]
    ) -> Applied:
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_TRANSACTION_ATTEMPTS):
                try:
                    await pipe.watch(*watch)
                    result = await body(pipe)
                    if result is not Applied.DUPLICATE:
                        await pipe.execute()
                    return result
                except WatchError:
                    continue
        raise TransactionConflictError(
            f"gave up after {MAX_TRANSACTION_ATTEMPTS} conflicts on {watch}"
        )

    # ---- reading ------------------------------------------------------------------------------

    async def window_end(self, hall: Hall, now: datetime | None = None) -> float | None:
        """Where the window ends: now ('wall'), or the newest served time ('event'; None if none
        yet)."""
        if self._settings.window_clock == "wall":
            return epoch(now or datetime.now(UTC))
        newest = await self._redis.zrange(wait_samples_key(hall), -1, -1, withscores=True)
        return float(newest[0][1]) if newest else None

    async def window_waits(self, hall: Hall, end: float) -> list[float]:
        """The waits of the samples with ``end - window_s < served time <= end``."""
        members = await self._redis.zrangebyscore(
            wait_samples_key(hall), f"({end - self._settings.window_s!r}", repr(end)
        )
        return [sample_wait(_text(cast(bytes | str, m))) for m in members]

    async def window_waits_between(self, hall: Hall, start: float, end: float) -> list[float]:
        """The waits of the samples with ``start < served time <= end`` (epoch s)."""
        members = await self._redis.zrangebyscore(wait_samples_key(hall), f"({start!r}", repr(end))
        return [sample_wait(_text(cast(bytes | str, m))) for m in members]

    async def waiting_now(self, hall: Hall) -> int:
        count: int = await self._redis.zcard(queue_waiting_key(hall))
        return count

    async def trim(self, hall: Hall, end: float) -> None:
        """Drop samples that left the window and travellers waiting longer than ``visit_ttl_s``."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(wait_samples_key(hall), "-inf", end - self._settings.window_s)
            pipe.zremrangebyscore(queue_waiting_key(hall), "-inf", end - self._settings.visit_ttl_s)
            await pipe.execute()

    async def waiting_since(self, hall: Hall, since: float) -> tuple[int, float | None]:
        """Travellers waiting who joined at or after ``since`` (epoch s), and the joined time of
        the longest waiting of them (None if none)."""
        key = queue_waiting_key(hall)
        count: int = await self._redis.zcount(key, repr(since), "+inf")
        first = await self._redis.zrangebyscore(
            key, repr(since), "+inf", start=0, num=1, withscores=True
        )
        return count, (float(first[0][1]) if first else None)

    async def arrivals_per_minute(self, hall: Hall, end_minute: int, minutes: int) -> list[int]:
        """Travellers who joined in each minute ``end_minute - minutes <= m < end_minute``
        (epoch minutes), oldest first; 0 for minutes without any."""
        fields = [str(m) for m in range(end_minute - minutes, end_minute)]
        if not fields:
            return []
        values = await self._redis.hmget(arrivals_key(hall), fields)
        return [int(v) if v is not None else 0 for v in values]

    async def trim_arrivals(self, hall: Hall) -> None:
        """Drop per-minute arrival counts older than ``ARRIVALS_KEEP_MIN`` before the newest."""
        key = arrivals_key(hall)
        minutes = [int(_text(f)) for f in await self._redis.hkeys(key)]
        if not minutes:
            return
        old = [str(m) for m in minutes if m < max(minutes) - ARRIVALS_KEEP_MIN]
        if old:
            await self._redis.hdel(key, *old)

    async def compute_stats(self, hall: Hall, now: datetime | None = None) -> WaitStats:
        """The hall's current ``WaitStats`` from the shared samples (trims old state as it goes)."""
        now = now or datetime.now(UTC)
        end = await self.window_end(hall, now)
        waits: list[float] = []
        if end is not None:
            await self.trim(hall, end)
            waits = await self.window_waits(hall, end)
        await self.trim_arrivals(hall)
        summary = summarize(waits, self._settings.target_wait_s)
        return WaitStats(
            hall=hall,
            samples=summary.samples,
            p95_wait_s=summary.p95_wait_s,
            mean_wait_s=summary.mean_wait_s,
            share_within_target=summary.share_within_target,
            target_s=summary.target_s,
            window_s=self._settings.window_s,
            waiting_now=await self.waiting_now(hall),
            updated_at=now,
        )

    async def clearance_counts(self, hall: Hall) -> dict[str, int]:
        """Counters of clearance outcomes: ``total``, ``outcome:*``, ``reason:*``."""
        return await read_clearance_counts(self._redis, hall)


async def read_clearance_counts(redis: Redis, hall: Hall) -> dict[str, int]:
    """Counters of clearance outcomes for ``hall`` (empty when none were counted)."""
    raw = _text_dict(await redis.hgetall(clearance_counts_key(hall)))
    return {k: int(v) for k, v in raw.items()}
