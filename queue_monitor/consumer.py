"""Reading the queue and clearance streams through the monitors' consumer group.

Delivery is at-least-once: an entry is acknowledged (XACK) only after it has been applied, and
entries left pending by a consumer that died are taken over with XAUTOCLAIM once idle for
``reclaim_idle_ms``. Applying is idempotent (see ``store``), so a redelivery is harmless.

An entry that cannot be decoded, or whose application fails for a reason other than Redis, is
logged, acknowledged and skipped: retrying it would fail the same way and block the stream.
A Redis error propagates to the caller, leaving the entry pending to be read again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bordergate.contracts import (
    GROUP_QUEUE_MONITOR,
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    decode_event,
)
from queue_monitor.settings import MonitorSettings
from queue_monitor.store import Applied, SharedWaitState, TransactionConflictError

log = structlog.get_logger("queue_monitor.consumer")

STREAMS: tuple[str, ...] = (STREAM_QUEUE, STREAM_CLEARANCES)

Entry = tuple[str, Mapping[str, str] | None]


def _stream_batches(response: Any) -> list[tuple[str, list[Entry]]]:
    """XREADGROUP's reply as ``[(stream, [(id, fields), ...]), ...]`` (RESP2 list or RESP3 dict)."""
    if not response:
        return []
    items: Iterable[Any] = response.items() if isinstance(response, dict) else response
    out: list[tuple[str, list[Entry]]] = []
    for stream, entries in items:
        if isinstance(entries, list) and entries and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 nests the entry list one level deeper
        out.append((str(stream), list(entries or [])))
    return out


class StreamConsumer:
    """One consumer (``settings.consumer_name``) of ``GROUP_QUEUE_MONITOR`` on both streams."""

    def __init__(
        self,
        redis: Redis,
        settings: MonitorSettings,
        state: SharedWaitState,
        group: str = GROUP_QUEUE_MONITOR,
        streams: tuple[str, ...] = STREAMS,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._state = state
        self._group = group
        self._streams = streams
        self._groups_ready = False
        self._own_pending_drained = False
        self._last_reclaim = float("-inf")
        self.counts: Counter[str] = Counter()
        """Entries handled by this consumer, by outcome (an ``Applied`` value, or ``malformed``,
        ``failed``, ``deleted``); ``reclaimed`` counts entries taken over from others."""

    @property
    def name(self) -> str:
        return self._settings.consumer_name

    def reset(self) -> None:
        """After a Redis error: re-check the groups and re-read this consumer's own pending."""
        self._groups_ready = False
        self._own_pending_drained = False

    async def ensure_groups(self) -> None:
        """Create the group on each stream (MKSTREAM, from the start), accepting BUSYGROUP."""
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._group, id="0", mkstream=True)
                log.info("group_created", stream=stream, group=self._group)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    async def poll(self, block_ms: int | None = None) -> int:
        """One step: own pending first, then idle entries of others, then new entries.

        Returns the number of entries handled (0 when there was nothing; it then blocked up to
        ``block_ms``). Raises ``RedisError`` on Redis trouble; call ``reset()`` after that.
        """
        if not self._groups_ready:
            await self.ensure_groups()
        if not self._own_pending_drained:
            handled = await self.drain_own_pending()
            self._own_pending_drained = True
            if handled:
                return handled
        now = time.monotonic()
        if now - self._last_reclaim >= self._settings.reclaim_interval_s:
            self._last_reclaim = now
            handled = await self.reclaim()
            if handled:
                return handled
        response = await self._redis.xreadgroup(
            self._group,
            self.name,
            {s: ">" for s in self._streams},
            count=self._settings.batch_size,
            block=block_ms,
        )
        handled = 0
        for stream, entries in _stream_batches(response):
            handled += await self._handle_batch(stream, entries)
        return handled

    async def drain_own_pending(self) -> int:
        """Handle entries delivered to this consumer name earlier but never acknowledged."""
        handled = 0
        for stream in self._streams:
            start = "0"
            while True:
                response = await self._redis.xreadgroup(
                    self._group, self.name, {stream: start}, count=self._settings.batch_size
                )
                batches = _stream_batches(response)
                entries = [e for _, es in batches for e in es]
                if not entries:
                    break
                handled += await self._handle_batch(stream, entries)
                start = entries[-1][0]
        if handled:
            log.info("own_pending_handled", consumer=self.name, entries=handled)
        return handled

    async def reclaim(self) -> int:
        """Take over and handle entries idle at any consumer for ``reclaim_idle_ms``."""
        handled = 0
        for stream in self._streams:
            cursor = "0-0"
            while True:
                reply = await self._redis.xautoclaim(
                    stream,
                    self._group,
                    self.name,
                    min_idle_time=self._settings.reclaim_idle_ms,
                    start_id=cursor,
                    count=self._settings.batch_size,
                )
                cursor = str(reply[0])
                entries: list[Entry] = list(reply[1] or [])
                if entries:
                    self.counts["reclaimed"] += len(entries)
                    log.info("pending_reclaimed", stream=stream, entries=len(entries))
                    handled += await self._handle_batch(stream, entries)
                if cursor in ("0-0", "0"):
                    break
        return handled

    async def _handle_batch(self, stream: str, entries: list[Entry]) -> int:
        """Apply each entry, then acknowledge all that were applied or skipped."""
        done: list[str] = []
        try:
            for entry_id, fields in entries:
                await self._handle_entry(stream, entry_id, fields)
                done.append(entry_id)
        finally:
            if done:
                try:
                    await self._redis.xack(stream, self._group, *done)
                except RedisError as exc:  # they stay pending; redelivery is de-duplicated
                    log.warning("ack_failed", stream=stream, entries=len(done), error=str(exc))
        return len(done)

    async def _handle_entry(
        self, stream: str, entry_id: str, fields: Mapping[str, str] | None
    ) -> None:
        if not fields:  # trimmed from the stream while pending
            self.counts["deleted"] += 1
            return
        try:
            event = decode_event(dict(fields))
        except (ValidationError, ValueError) as exc:
            self.counts["malformed"] += 1
            log.warning(
                "malformed_entry_skipped", stream=stream, entry_id=entry_id, error=str(exc)[:500]
            )
            return
        try:
            result = await self._state.apply(event)
        except (RedisError, TransactionConflictError):
            raise  # transient: leave it pending, read it again
        except Exception:
            self.counts["failed"] += 1
            log.exception(
                "entry_failed_skipped", stream=stream, entry_id=entry_id, event_type=event.type
            )
            return
        self.counts[str(result)] += 1
        if result is Applied.DUPLICATE:
            log.debug("duplicate_event", stream=stream, event_id=event.event_id)
