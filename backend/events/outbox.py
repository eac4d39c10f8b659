"""The outbox publisher: rows written with a record are published to Redis after commit.

At-least-once: a row is marked published only after XADD succeeded; a crash or a Redis outage in
between leaves it pending, and the replay task publishes it later (consumers de-duplicate on
``event_id``). Within one process a lock serialises the replay and the publish-after-commit, and
the ids the replay sent recently are remembered, so a row the replay picked up between commit and
publish-after-commit is not sent twice; across workers the grace period keeps them apart.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import structlog
from anyio import to_thread
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from backend.metrics import BackendMetrics
from backend.records.store import RecordsStore, RecordsUnavailableError
from bordergate.contracts import STREAM_MAXLEN

log = structlog.get_logger(__name__)

PUBLISH_ERRORS = (RedisError, OSError, TimeoutError)


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        self._lock = asyncio.Lock()
        self._replayed: deque[int] = deque(maxlen=4 * batch_size)
        """Ids the replay published lately (a row commits before its publish-after-commit)."""

    async def _xadd(self, stream: str, fields: Mapping[str, str]) -> None:
        payload: dict[FieldT, EncodableT] = dict(fields.items())
        await self.redis.xadd(stream, payload, maxlen=STREAM_MAXLEN, approximate=True)

    async def publish_now(self, outbox_id: int, stream: str, fields: Mapping[str, str]) -> bool:
        """Publish one freshly committed row within the time budget; False leaves it pending."""
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                await self._lock.acquire()
        except TimeoutError:
            log.info("outbox.publish_deferred", outbox_id=outbox_id, error="replay busy")
            return False
        try:
            if outbox_id in self._replayed:
                return True  # the replay got there first (only possible with a short grace)
            try:
                async with asyncio.timeout(self.publish_timeout_s):
                    await self._xadd(stream, fields)
            except PUBLISH_ERRORS as exc:
                self.metrics.outbox_publish_failures.inc()
                log.warning(
                    "outbox.publish_deferred", outbox_id=outbox_id, error=type(exc).__name__
                )
                return False
            self.metrics.outbox_published.inc()
            try:
                await to_thread.run_sync(self.store.mark_published, [outbox_id], self.clock())
            except RecordsUnavailableError:
                # Published but still marked pending: the replay sends it again (at-least-once).
                log.warning("outbox.mark_deferred", outbox_id=outbox_id)
                return True
            self.metrics.outbox_pending.dec()
            return True
        finally:
            self._lock.release()

    async def replay_pending(self) -> int:
        """Publish pending rows (oldest first) until none are left or Redis fails; the count."""
        published = 0
        async with self._lock:
            while True:
                cutoff = self.clock() - timedelta(seconds=self.grace_s)
                rows = await to_thread.run_sync(self.store.pending_events, self.batch_size, cutoff)
                for row in rows:
                    try:
                        await self._xadd(row.stream, row.fields)
                    except PUBLISH_ERRORS as exc:
                        self.metrics.outbox_publish_failures.inc()
                        log.warning(
                            "outbox.replay_failed", outbox_id=row.id, error=type(exc).__name__
                        )
                        await to_thread.run_sync(self.store.note_failed_attempt, row.id)
                        return published
                    self.metrics.outbox_published.inc()
                    await to_thread.run_sync(self.store.mark_published, [row.id], self.clock())
                    self._replayed.append(row.id)
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
