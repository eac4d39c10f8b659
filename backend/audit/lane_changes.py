"""Audit every lane command of the queue monitor, once.

A background task of the backend reads ``STREAM_LANE_COMMANDS`` in its own consumer group and
appends one "lane-change" entry per command; the stream id is the entry's ``source_id``, so a
redelivery (a crash between append and XACK, several backend workers) adds nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from backend.audit.chain import audit_append_async
from backend.records.store import RecordsStore, RecordsUnavailableError
from bordergate.contracts import STREAM_LANE_COMMANDS, LaneCommand, decode_event

log = structlog.get_logger(__name__)

GROUP_AUDIT = "backend-audit"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


async def ensure_group(redis: Redis, stream: str = STREAM_LANE_COMMANDS) -> None:
    """Create the group at the stream's start (commands sent before the backend ran count too)."""
    try:
        await redis.xgroup_create(stream, GROUP_AUDIT, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def audit_lane_command(
    store: RecordsStore, stream_id: str, fields: dict[Any, Any], stream: str = STREAM_LANE_COMMANDS
) -> bool:
    """Append one command's entry; True if appended, False if already there or not a command."""
    try:
        event = decode_event(fields)
    except (ValidationError, ValueError):
        log.warning("audit.lane_command_unreadable", stream_id=stream_id)
        return False
    if not isinstance(event, LaneCommand):
        return False
    return await audit_append_async(
        store,
        kind="lane-change",
        actor="queue-monitor",
        subject=f"{event.hall}/{event.lane_id}",
        detail={
            "stream_id": stream_id,
            "event_id": event.event_id,
            "hall": str(event.hall),
            "lane_id": event.lane_id,
            "action": event.action,
            "reason": event.reason,
            "effective_at": event.effective_at,
            "issued_at": event.at,
        },
        source_id=f"{stream}:{stream_id}",
    )


async def consume_once(
    redis: Redis,
    store: RecordsStore,
    consumer: str,
    *,
    pending: bool = False,
    block_ms: int = 1000,
    count: int = 100,
    stream: str = STREAM_LANE_COMMANDS,
) -> int:
    """Read one batch (``pending``: this consumer's unacknowledged ones) and audit it."""
    reply: list[Any] = await redis.xreadgroup(  # type: ignore[assignment]
        GROUP_AUDIT,
        consumer,
        {stream: "0" if pending else ">"},
        count=count,
        block=None if pending else block_ms,
    )
    handled = 0
    for _stream, entries in reply or []:
        for raw_id, fields in entries:
            stream_id = _text(raw_id)
            if fields:  # a trimmed entry still pending comes back without fields
                await audit_lane_command(store, stream_id, fields, stream)
            await redis.xack(stream, GROUP_AUDIT, stream_id)
            handled += 1
    return handled


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_lane_audit(
    redis: Redis,
    store: RecordsStore,
    *,
    consumer: str | None = None,
    retry_s: float = 1.0,
    stream: str = STREAM_LANE_COMMANDS,
) -> None:
    """Forever: audit lane commands as they come; on a Redis or database failure, retry."""
    name = consumer or consumer_name()
    recovered = False
    task = asyncio.current_task()
    while True:
        # redis-py can swallow a cancellation that lands while it connects; honour it here.
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        try:
            await ensure_group(redis, stream)
            if not recovered:
                while await consume_once(redis, store, name, pending=True, stream=stream):
                    pass
                recovered = True
            await consume_once(redis, store, name, stream=stream)
        except asyncio.CancelledError:
            raise
        except (RedisError, RecordsUnavailableError, OSError) as exc:
            # Unacknowledged commands stay pending and are audited after the retry.
            log.warning("audit.lane_commands_retry", error=type(exc).__name__)
            recovered = False
            await asyncio.sleep(retry_s)
