"""The outbox publisher: rows written with a record are published to Redis after commit.

At-least-once: a row is marked published only after XADD succeeded; a crash or a Redis outage in
between leaves it pending, and the replay task publishes it later (consumers de-duplicate on
``event_id``). The grace period keeps the replay away from rows whose publish-after-commit is
still under way, and the sent marker below makes a race between them harmless, so requests never
wait for a replay in progress (one replay at a time per process).

Exactly once on the stream, as far as Redis keeps its data: every XADD is made in one
transaction with the event's ``outbox_sent_key`` marker, and only while that marker is absent
(WATCHed, so two workers cannot both add it). A publish whose answer was lost (a timeout, a
connection cut after Redis applied it) is therefore not repeated by the replay or a retry.
A Redis that loses its data (no persistence) loses the markers with the entries: rows already
marked published are not sent again (nothing tells the outbox they were lost), rows still
pending are.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from anyio import to_thread
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from redis.typing import EncodableT, FieldT

from backend.metrics import BackendMetrics
from backend.records.store import RecordsStore, RecordsUnavailableError
from bordergate.contracts import STREAM_MAXLEN, outbox_sent_key

log = structlog.get_logger(__name__)

PUBLISH_ERRORS = (RedisError, OSError, TimeoutError)
SENT_MARKER_TTL_S = 86_400
"""How long an event's sent marker lives: longer than a row can stay pending after its XADD
(only while the records store cannot mark it published)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _event_id(fields: Mapping[str, str]) -> str:
    """The ``event_id`` inside an encoded event's ``data`` (see ``contracts.encode_event``)."""
    event_id = json.loads(fields["data"])["event_id"]
    if not isinstance(event_id, str):
        raise ValueError("encoded event without a string event_id")
    return event_id


class OutboxPublisher:
    def __init__(
        self,
        redis: Redis,
        store: RecordsStore,
        metrics: BackendMetrics,
        *,
        batch_size: int = 200,
        grace_s: float = 2.0,
        publish_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.redis = redis
        self.store = store
        self.metrics = metrics
        self.batch_size = batch_size
        self.grace_s = grace_s
        self.publish_timeout_s = publish_timeout_s
        self.clock = clock
        self._replay_lock = asyncio.Lock()
        self._mark_lock = asyncio.Lock()
        self._to_mark: list[int] = []

    async def _xadd_once(self, stream: str, fields: Mapping[str, str], event_id: str) -> bool:
        """XADD with the event's sent marker in one MULTI/EXEC, unless the marker is already
        there (WATCHed); True if this call added it, False if it was on the stream already.

        Raises a Redis error when it is not known to be on the stream (the row stays pending).
        A retry of redis-py after a lost answer comes back here as a WatchError: the marker
        then tells whether the first attempt was applied."""
        key = outbox_sent_key(event_id)
        payload: dict[FieldT, EncodableT] = dict(fields.items())
        async with self.redis.pipeline(transaction=True) as pipe:
            untyped = cast(Any, pipe)  # redis-py leaves unwatch and multi untyped
            await pipe.watch(key)
            if await pipe.exists(key):
                await untyped.unwatch()
                return False
            untyped.multi()
            pipe.xadd(stream, payload, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.set(key, "1", ex=SENT_MARKER_TTL_S)
            try:
                await pipe.execute()
            except WatchError:  # another replay added it, or the connection died: ask again
                if await self.redis.exists(key):
                    return False
                raise
        return True

    async def publish_now(
        self, outbox_id: int, stream: str, fields: Mapping[str, str], event_id: str | None = None
    ) -> bool:
        """Publish one freshly committed row within the time budget; False leaves it pending.

        ``event_id`` (default: read from the fields' ``data``) names the row's sent marker."""
        event_id = event_id if event_id is not None else _event_id(fields)
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                added = await self._xadd_once(stream, fields, event_id)
        except PUBLISH_ERRORS as exc:
            self.metrics.outbox_publish_failures.inc()
            log.warning("outbox.publish_deferred", outbox_id=outbox_id, error=type(exc).__name__)
            return False
        if added:
            self.metrics.outbox_published.inc()
        await self._mark(outbox_id)
        return True

    async def _mark(self, outbox_id: int) -> None:
        """Mark a published row, in one transaction with the others published meanwhile (a
        group commit: one write for many decisions under load); returns once it is written or
        has failed. A row left unmarked stays pending: the replay finds its sent marker and
        only marks it."""
        self._to_mark.append(outbox_id)
        async with self._mark_lock:
            if outbox_id not in self._to_mark:
                return  # an earlier holder of the lock took it in its batch
            ids, self._to_mark = self._to_mark, []
            try:
                await to_thread.run_sync(self.store.mark_published, ids, self.clock())
            except RecordsUnavailableError:
                log.warning("outbox.mark_deferred", outbox_ids=ids)
                return
            self.metrics.outbox_pending.dec(len(ids))

    async def replay_pending(self) -> int:
        """Publish pending rows (oldest first) until none are left or Redis fails; the count."""
        published = 0
        async with self._replay_lock:
            while True:
                cutoff = self.clock() - timedelta(seconds=self.grace_s)
                rows = await to_thread.run_sync(self.store.pending_events, self.batch_size, cutoff)
                for row in rows:
                    try:
                        added = await self._xadd_once(row.stream, row.fields, row.event_id)
                    except PUBLISH_ERRORS as exc:
                        self.metrics.outbox_publish_failures.inc()
                        log.warning(
                            "outbox.replay_failed", outbox_id=row.id, error=type(exc).__name__
                        )
                        await to_thread.run_sync(self.store.note_failed_attempt, row.id)
                        return published
                    if added:
                        self.metrics.outbox_published.inc()
                    else:  # its XADD landed earlier, but its answer or the marking was lost
                        log.info("outbox.already_on_stream", outbox_id=row.id)
                    await to_thread.run_sync(self.store.mark_published, [row.id], self.clock())
                    published += 1
                if len(rows) < self.batch_size:
                    break
        if published:
            log.info("outbox.replayed", published=published)
        return published

    async def refresh_pending_gauge(self) -> int:
        pending = await to_thread.run_sync(self.store.count_pending)
        self.metrics.outbox_pending.set(pending)
        return pending

    async def run(self, interval_s: float) -> None:
        """Replay forever, every ``interval_s``; cancelled at shutdown."""
        while True:
            try:
                await self.replay_pending()
                await self.refresh_pending_gauge()
            except RecordsUnavailableError:
                pass  # already logged by the store; try again next round
            except Exception:
                log.exception("outbox.replay_error")
            await asyncio.sleep(interval_s)
