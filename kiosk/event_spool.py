"""Events a kiosk could not publish, kept and replayed in order once Redis answers again.

A kiosk's queue events (joined, served) and its lane alerts are the queue monitor's only
measure of waits: one lost in a Redis outage is a wait never measured. Every event carries its
own ``event_id`` and times, and the monitor de-duplicates on the id, so replaying late (or twice,
if an XADD's answer was lost) changes nothing but completeness.

With a ``path`` the spool is also a JSON-lines file, so a kiosk restarted during an outage still
sends what it kept. The file holds queue events only (hall, counter, lane, anonymous traveller
refs, times): nothing about a traveller's documents or face.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import deque
from pathlib import Path

import structlog
from redis.asyncio import Redis

from bordergate.contracts import STREAM_MAXLEN, Event, decode_event, encode_event

log = structlog.get_logger(__name__)

DEFAULT_MAX_EVENTS = 50_000
"""About a day of one lane's events; past it the oldest are dropped (and counted)."""


async def xadd_event(redis: Redis, stream: str, fields: dict[str, str], timeout_s: float) -> bool:
    """XADD one encoded event within ``timeout_s``; False (logged) on any failure: publishing
    never stops a kiosk."""
    try:
        async with asyncio.timeout(timeout_s):
            await redis.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
    except Exception as exc:
        log.warning("event publish failed", stream=stream, error=type(exc).__name__)
        return False
    return True


class EventSpool:
    def __init__(
        self,
        redis: Redis,
        *,
        timeout_s: float = 1.0,
        path: Path | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.path = path
        self._pending: deque[tuple[str, dict[str, str]]] = deque()
        self.max_events = max_events
        self.dropped = 0
        """Events given up because the spool was full (logged)."""
        self.replayed = 0
        self._drain_lock = asyncio.Lock()
        self._load()

    def __len__(self) -> int:
        return len(self._pending)

    async def publish(self, event: Event, stream: str) -> bool:
        """Publish now, or keep for later; True if it reached Redis now.

        While older events wait, a new one waits behind them, keeping the kiosk's order."""
        fields = encode_event(event)
        if not self._pending and await self._xadd(stream, fields):
            return True
        self._keep(stream, fields)
        log.warning("event kept for replay", event_type=event.type, kept=len(self._pending))
        return False

    async def drain(self) -> int:
        """Send the kept events, oldest first, until Redis fails again; how many were sent."""
        sent = 0
        async with self._drain_lock:
            while self._pending:
                stream, fields = self._pending[0]
                if not await self._xadd(stream, fields):
                    break
                self._pending.popleft()
                sent += 1
            if sent:
                self.replayed += sent
                self._save()
                log.info("kept events replayed", sent=sent, kept=len(self._pending))
        return sent

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Drain every ``interval_s`` until ``stop``, then once more."""
        while not stop.is_set():
            if self._pending:
                await self.drain()
            try:
                async with asyncio.timeout(interval_s):
                    await stop.wait()
            except TimeoutError:
                pass
        if self._pending:
            await self.drain()
        if self._pending:
            log.warning(
                "kept events not yet sent at stop",
                kept=len(self._pending),
                file=str(self.path) if self.path else None,
            )

    async def _xadd(self, stream: str, fields: dict[str, str]) -> bool:
        return await xadd_event(self.redis, stream, fields, self.timeout_s)

    def _keep(self, stream: str, fields: dict[str, str]) -> None:
        full = len(self._pending) >= self.max_events
        if full:
            self._pending.popleft()
            self.dropped += 1
            log.error("event spool full: oldest event dropped", dropped=self.dropped)
        self._pending.append((stream, fields))
        if full:
            self._save()  # the file loses its first line too
        elif self.path is not None:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"stream": stream, "fields": fields}) + "\n")

    def _save(self) -> None:
        """Rewrite the file with what is still kept (atomically: a crash keeps old or new)."""
        if self.path is None:
            return
        if not self._pending:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for stream, fields in self._pending:
                out.write(json.dumps({"stream": stream, "fields": fields}) + "\n")
        os.replace(tmp, self.path)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        bad = 0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
                stream, fields = (
                    str(item["stream"]),
                    {str(k): str(v) for k, v in item["fields"].items()},
                )
                decode_event(fields)  # only well-formed events go back on a stream
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1  # a line cut short by a crash mid-write
                continue
            self._pending.append((stream, fields))
        if self._pending or bad:
            log.info("kept events found", kept=len(self._pending), unreadable=bad)
