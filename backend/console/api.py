"""The console's routes: the page, its context, desks, and the live feed's websocket."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from backend.api.errors import error_responses
from backend.auth.deps import (
    WS_NOT_SIGNED_IN,
    require_page,
    require_roles,
    session_store,
    websocket_principal,
)
from backend.auth.roles import Principal
from backend.auth.sessions import SESSION_COOKIE
from backend.console.desks import (
    DeskAction,
    DeskHeldError,
    DeskNotFoundError,
    DeskService,
    LanesNotReadyError,
)
from backend.console.live import ConsoleFeed
from backend.records.store import RecordsStore
from backend.referrals.api import OFFICER_ROLES, console_header, get_referrals
from backend.referrals.service import ReferralService
from bordergate.contracts import Hall

PAGE = Path(__file__).parent / "static" / "console.html"
WS_BAD_REQUEST = 4400

router = APIRouter(tags=["console"])
officer = require_roles(*OFFICER_ROLES)


class DeskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: DeskAction


def get_desks(request: Request) -> DeskService:
    return DeskService(
        cast(Redis, request.app.state.redis), cast(RecordsStore, request.app.state.records)
    )


@router.get("/console", include_in_schema=False)
async def console_page(_: Principal = Depends(require_page(*OFFICER_ROLES))) -> FileResponse:
    return FileResponse(PAGE, media_type="text/html", headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/console/desks/{hall}",
    summary="The officer desks of a hall",
    responses=error_responses(401, 403, 422, 503),
)
async def list_desks(
    hall: Hall, _: Principal = Depends(officer), desks: DeskService = Depends(get_desks)
) -> list[dict[str, Any]]:
    return [d.model_dump(mode="json") for d in await desks.officer_desks(hall)]


@router.post(
    "/v1/console/desks/{hall}/{lane_id}",
    summary="Open or close the officer's own desk",
    description=(
        "Sets the desk's lane state as the queue monitor reads it and appends desk-open or "
        "desk-close to the audit trail. A desk opened by another officer is theirs: only they "
        "or a supervisor close it (403)."
    ),
    responses=error_responses(
        401,
        422,
        503,
        described={
            403: "Not an officer role, no console header, or a desk another officer holds",
            404: "No such officer desk in this hall",
            409: "The queue monitor has not set up this hall's lanes yet",
        },
    ),
)
async def change_desk(
    hall: Hall,
    lane_id: str,
    body: DeskRequest,
    principal: Principal = Depends(officer),
    _csrf: None = Depends(console_header),
    desks: DeskService = Depends(get_desks),
) -> dict[str, Any]:
    try:
        change = await desks.change(hall, lane_id, body.action, principal, datetime.now(UTC))
    except LanesNotReadyError:
        raise HTTPException(409, "the queue monitor has not set up this hall's lanes yet") from None
    except DeskNotFoundError:
        raise HTTPException(404, f"no officer desk {lane_id} in the {hall} hall") from None
    except DeskHeldError as exc:
        raise HTTPException(403, f"desk {lane_id} is held by {exc}") from None
    return {
        "desk": change.desk.model_dump(mode="json"),
        "changed": change.changed,
        "officer": change.officer,
    }


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket, hall: str = "") -> None:
    principal = await websocket_principal(websocket, *OFFICER_ROLES)
    if principal is None:
        return
    await websocket.accept()
    try:
        which = Hall(hall)
    except ValueError:
        await websocket.close(code=WS_BAD_REQUEST, reason="unknown hall")
        return
    service = cast(ReferralService, websocket.app.state.referrals)
    sessions = session_store(websocket.app)
    token = websocket.cookies.get(SESSION_COOKIE)

    async def signed_in() -> bool:
        return await sessions.resolve(token) is not None

    feed = ConsoleFeed(
        service,
        cast(Redis, websocket.app.state.redis),
        which,
        principal,
        websocket.send_json,
        signed_in=signed_in,
    )

    async with anyio.create_task_group() as tasks:

        async def feed_then_close() -> None:
            # Returns only when the feed failed: the page reconnects, or signs in again.
            code = 1011 if await feed.run() else WS_NOT_SIGNED_IN
            with contextlib.suppress(Exception):
                await websocket.close(code=code)
            tasks.cancel_scope.cancel()

        tasks.start_soon(feed_then_close)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # the page sends nothing that matters
        tasks.cancel_scope.cancel()


__all__ = ["get_referrals", "router"]
