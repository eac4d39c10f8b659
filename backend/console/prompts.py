"""Lane commands of the queue monitor as prompts for the officers of a hall.

The controller writes ``LaneCommand`` events to ``STREAM_LANE_COMMANDS``; the console shows those
of its hall ("Open desk 7 by 08:40", hall time: China Standard Time). Read without a consumer
group: every console sees every command, and reading acknowledges nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from backend.console.desks import desk_number
from backend.policy.clock import to_cst
from bordergate.contracts import STREAM_LANE_COMMANDS, Hall, LaneCommand, decode_event

RECENT = timedelta(minutes=30)
RECENT_SCAN = 500


class Prompt(BaseModel):
    id: str
    """The command's stream id."""
    lane_id: str
    lane_type: str
    action: str
    effective_at: datetime | None
    issued_at: datetime
    text: str
    reason: str


_TEXTS = {
    ("en", "open", "officer"): "Open desk {n} by {t}",
    ("en", "close", "officer"): "Close desk {n} from {t}",
    ("en", "open", "egate"): "Open e-gate {n} by {t}",
    ("en", "close", "egate"): "Close e-gate {n} from {t}",
    ("zh", "open", "officer"): "请于{t}前开放{n}号柜台",
    ("zh", "close", "officer"): "请于{t}起关闭{n}号柜台",
    ("zh", "open", "egate"): "请于{t}前开启{n}号自助通道",
    ("zh", "close", "egate"): "请于{t}起关闭{n}号自助通道",
}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def prompt_of(stream_id: str, command: LaneCommand, language: str) -> Prompt:
    lane_type = "officer" if command.lane_id.startswith("officer") else "egate"
    when = command.effective_at or command.at
    lang = "zh" if language == "zh" else "en"
    text = _TEXTS[(lang, command.action, lane_type)].format(
        n=desk_number(command.lane_id), t=to_cst(when).strftime("%H:%M")
    )
    return Prompt(
        id=stream_id,
        lane_id=command.lane_id,
        lane_type=lane_type,
        action=command.action,
        effective_at=command.effective_at,
        issued_at=command.at,
        text=text,
        reason=command.reason,
    )


def _command(fields: dict[Any, Any], hall: Hall) -> LaneCommand | None:
    try:
        event = decode_event({_text(k): _text(v) for k, v in fields.items()})
    except (ValidationError, ValueError):
        return None
    return event if isinstance(event, LaneCommand) and event.hall is hall else None


async def recent_prompts(
    redis: Redis, hall: Hall, language: str, now: datetime
) -> tuple[list[Prompt], str]:
    """The hall's commands issued in the last half hour (oldest first), and the stream id to
    read on from."""
    entries: Any = await redis.xrevrange(STREAM_LANE_COMMANDS, count=RECENT_SCAN) or []
    last_id = _text(entries[0][0]) if entries else "0-0"
    prompts: list[Prompt] = []
    for stream_id, fields in entries:
        command = _command(fields, hall)
        if command is None:
            continue
        if command.at < now - RECENT:
            break
        prompts.append(prompt_of(_text(stream_id), command, language))
    prompts.reverse()
    return prompts, last_id


async def new_prompts(
    redis: Redis, hall: Hall, language: str, after: str
) -> tuple[list[Prompt], str]:
    """The hall's commands written after stream id ``after``, and the id to read on from."""
    result: Any = await redis.xread({STREAM_LANE_COMMANDS: after}, count=100)
    prompts: list[Prompt] = []
    last = after
    for _stream, entries in result or []:
        for stream_id, fields in entries:
            last = _text(stream_id)
            command = _command(fields, hall)
            if command is not None:
                prompts.append(prompt_of(last, command, language))
    return prompts, last
