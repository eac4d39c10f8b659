"""The console's live feed for one hall, over a websocket.

On connect: the open referrals, the hall's desks and the recent lane-command prompts. Then, as
they happen: referrals opened / given photos / closed (the hall's ``referrals_channel``), the
desks (``CHANNEL_LIVE`` lane-state messages of the hall) and new prompts (the lane-command
stream, read every second). The open list is resent every ``resync_s`` so a missed publish costs
seconds, not a lost referral. Any Redis failure ends the feed; the page reconnects.

Messages (JSON, ``type`` first): ``snapshot``, ``referrals``, ``referral.opened``,
``referral.photos``, ``referral.closed``, ``desks``, ``prompts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import structlog
from pydantic import ValidationError
from redis.asyncio import Redis

from backend.auth.roles import Principal
from backend.console.desks import desk_officers, parse_lanes
from backend.console.prompts import new_prompts, recent_prompts
from backend.referrals.service import ReferralService
from bordergate.contracts import (
    CHANNEL_LIVE,
    Hall,
    LaneState,
    ReferralChange,
    lane_state_key,
    referrals_channel,
)

log = structlog.get_logger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SessionEndedError(Exception):
    """The officer's session ended while the console was open."""


class ConsoleFeed:
    def __init__(
        self,
        referrals: ReferralService,
        redis: Redis,
        hall: Hall,
        principal: Principal,
        send: Send,
        *,
        resync_s: float = 10.0,
        prompt_poll_s: float = 1.0,
        signed_in: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.signed_in = signed_in
        """Checked at each resync: a session that ended (signed out, expired) ends the feed."""
        self.referrals = referrals
        self.redis = redis
        self.hall = hall
        self.principal = principal
        self._send = send
        self._sending = asyncio.Lock()  # three parts send; one message at a time on the socket
        self.resync_s = resync_s
        self.prompt_poll_s = prompt_poll_s
        self._prompt_after = "0-0"
        self._ready = asyncio.Event()  # the snapshot was sent: the periodic parts may start

    async def send(self, message: dict[str, Any]) -> None:
        async with self._sending:
            await self._send(message)

    async def _open_list(self) -> list[dict[str, Any]]:
        views = await self.referrals.list_open(self.hall, self.principal.language)
        return [v.model_dump(mode="json") for v in views]

    async def _desks(self, lanes: list[LaneState] | None = None) -> dict[str, Any]:
        if lanes is None:
            lanes = parse_lanes(await self.redis.hgetall(lane_state_key(self.hall)))
        desks = [lane for lane in lanes if lane.lane_type == "officer"]
        held = await desk_officers(self.redis, self.hall, [d.lane_id for d in desks])
        return {
            "type": "desks",
            "desks": [{**d.model_dump(mode="json"), "officer": held.get(d.lane_id)} for d in desks],
        }

    async def snapshot(self) -> None:
        prompts, self._prompt_after = await recent_prompts(
            self.redis, self.hall, self.principal.language, datetime.now(UTC)
        )
        await self.send(
            {
                "type": "snapshot",
                "hall": str(self.hall),
                "principal": self.principal.model_dump(mode="json"),
                "referrals": await self._open_list(),
                "desks": (await self._desks())["desks"],
                "prompts": [p.model_dump(mode="json") for p in prompts],
            }
        )

    async def _on_referral(self, data: str) -> None:
        try:
            change = ReferralChange.model_validate_json(data)
        except ValidationError:
            return
        if change.hall is not self.hall:
            return
        referral_id = uuid.UUID(change.referral_id)
        if change.change == "closed":
            stored = await self.referrals.get(referral_id)
            await self.send(
                {
                    "type": "referral.closed",
                    "referral_id": change.referral_id,
                    "decision": stored.decision if stored else None,
                    "decided_by": stored.decided_by if stored else None,
                }
            )
            return
        stored = await self.referrals.get(referral_id)
        if stored is None or stored.status != "open":
            return
        view = await self.referrals.view(stored, self.principal.language)
        kind = "referral.opened" if change.change == "opened" else "referral.photos"
        await self.send({"type": kind, "referral": view.model_dump(mode="json")})

    async def _on_live(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("kind") != "lane_state":
            return
        body = message.get("data")
        if not isinstance(body, dict) or body.get("hall") != str(self.hall):
            return
        lanes: list[LaneState] = []
        for item in body.get("lanes", []):
            with contextlib.suppress(ValidationError):
                lanes.append(LaneState.model_validate(item))
        await self.send(await self._desks(lanes))

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub()
        channel = referrals_channel(self.hall)
        await pubsub.subscribe(channel, CHANNEL_LIVE)
        try:
            # The snapshot after subscribing: nothing opened in between is missed.
            await self.snapshot()
            self._ready.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                data = _text(message["data"])
                if _text(message["channel"]) == channel:
                    await self._on_referral(data)
                else:
                    await self._on_live(data)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await cast(Any, pubsub).aclose()  # untyped in redis-py

    async def _prompts(self) -> None:
        await self._ready.wait()
        while True:
            await asyncio.sleep(self.prompt_poll_s)
            prompts, self._prompt_after = await new_prompts(
                self.redis, self.hall, self.principal.language, self._prompt_after
            )
            if prompts:
                await self.send(
                    {"type": "prompts", "prompts": [p.model_dump(mode="json") for p in prompts]}
                )

    async def _resync(self) -> None:
        await self._ready.wait()
        while True:
            await asyncio.sleep(self.resync_s)
            if self.signed_in is not None and not await self.signed_in():
                raise SessionEndedError("the session ended")
            await self.send({"type": "referrals", "referrals": await self._open_list()})

    async def run(self) -> bool:
        """Feed the socket until cancelled. Returns when a part fails (logged): False if the
        session ended, True otherwise (Redis gone: the page should reconnect)."""
        try:
            async with anyio.create_task_group() as parts:
                parts.start_soon(self._listen)
                parts.start_soon(self._prompts)
                parts.start_soon(self._resync)
        except Exception as exc:  # Redis gone, the socket closed under a send, or signed out
            errors = list(exc.exceptions) if isinstance(exc, ExceptionGroup) else [exc]
            if any(isinstance(e, SessionEndedError) for e in errors):
                return False
            log.info("console.feed_ended", errors=[type(e).__name__ for e in errors])
        return True
