"""The manager dashboard's page, websocket, and JSON and CSV endpoints (managers and admins).

- ``GET /dashboard``: the page (``static/dashboard.html``; scripts and uPlot under
  ``/static/dashboard/``);
- ``WS /ws/dashboard``: first ``{"kind": "state", "data": DashboardState}``, then live messages;
- ``GET /v1/dashboard/state``: the same state as JSON;
- ``GET /v1/alerts?date=``: the day's alerts with their acknowledgements;
- ``POST /v1/alerts/{id}/ack``: acknowledge (200 with the acknowledgement; acknowledging again
  returns the first one with ``already: true``; 404 for an unknown alert);
- ``GET /v1/exports/waits.csv?date=&hall=`` and ``GET /v1/exports/clearances.csv?date=``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from importlib import resources
from typing import Annotated, Any, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect, WebSocketState

from backend.api.errors import error_responses
from backend.auth.deps import (
    WS_NOT_SIGNED_IN,
    require_page,
    require_roles,
    session_store,
    websocket_principal,
)
from backend.auth.roles import Principal, Role
from backend.auth.sessions import SESSION_COOKIE
from backend.dashboard import live
from backend.dashboard.exports import clearances_csv, waits_csv
from backend.dashboard.models import AckReceipt, AlertView, DashboardState
from backend.dashboard.service import DashboardService
from backend.policy.clock import cst_date
from bordergate.contracts import Hall

DASHBOARD_ROLES = (Role.MANAGER, Role.ADMIN)
# Each check also reads the account: a disabled manager's socket closes within this long.
SESSION_RECHECK_S = 5.0
WS_TOO_SLOW = 1013  # "try again later": the page reconnects and starts from a fresh state
CSV_TYPE = "text/csv; charset=utf-8"

router = APIRouter(tags=["dashboard"])
router.mount(
    "/static/dashboard",
    StaticFiles(packages=[("backend.dashboard", "static")]),
    name="dashboard-static",
)

Manager = Annotated[Principal, Depends(require_roles(*DASHBOARD_ROLES))]
DayParam = Annotated[
    str | None,
    Query(
        alias="date",
        description="A day in China Standard Time, YYYY-MM-DD (default: today)",
        examples=["2026-11-27"],
    ),
]


def _service(request: Request) -> DashboardService:
    return cast(DashboardService, request.app.state.dashboard)


def parse_day(value: str | None) -> date:
    """``YYYY-MM-DD`` (today in CST when absent); anything else is a 422."""
    if value is None:
        return cst_date(datetime.now(UTC))
    try:
        if len(value) != 10:
            raise ValueError("not YYYY-MM-DD")
        return date.fromisoformat(value)
    except ValueError:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "date"),
                    "msg": "date must be a calendar day as YYYY-MM-DD",
                    "type": "date_from_datetime_parsing",
                }
            ]
        ) from None


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(
    _: Annotated[Principal, Depends(require_page(*DASHBOARD_ROLES))],
) -> HTMLResponse:
    page = resources.files("backend.dashboard").joinpath("static/dashboard.html").read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/dashboard/state",
    response_model=DashboardState,
    summary="Everything the manager dashboard shows now",
    responses=error_responses(401, 403, 503),
)
async def dashboard_state(principal: Manager, request: Request) -> DashboardState:
    return await _service(request).state(principal)


@router.get(
    "/v1/alerts",
    response_model=list[AlertView],
    summary="The day's alerts with who acknowledged them, newest first",
    responses=error_responses(401, 403, 422, 503),
)
async def list_alerts(_: Manager, request: Request, day: DayParam = None) -> list[AlertView]:
    return await _service(request).alerts(parse_day(day))


@router.post(
    "/v1/alerts/{event_id}/ack",
    response_model=AckReceipt,
    summary="Acknowledge an alert (recorded with who and when, and audited)",
    responses=error_responses(401, 403, 404, 503),
)
async def acknowledge_alert(
    principal: Manager,
    request: Request,
    event_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
) -> AckReceipt:
    receipt = await _service(request).acknowledge(event_id, principal)
    if receipt is None:
        raise HTTPException(404, detail=f"no alert {event_id}")
    return receipt


def _csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type=CSV_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/v1/exports/waits.csv",
    response_class=Response,
    summary="The day's wait samples per hall as CSV",
    responses={**error_responses(401, 403, 422, 503), 200: {"content": {"text/csv": {}}}},
)
async def export_waits(
    _: Manager, request: Request, day: DayParam = None, hall: Hall | None = None
) -> Response:
    when = parse_day(day)
    samples = await to_thread.run_sync(_service(request).store.samples, when, hall)
    name = f"waits-{when.isoformat()}{'-' + hall.value if hall else ''}.csv"
    return _csv_response(waits_csv(samples), name)


@router.get(
    "/v1/exports/clearances.csv",
    response_class=Response,
    summary="The day's clearances (time, hall, lane, outcome, reasons, scheme) as CSV",
    responses={**error_responses(401, 403, 422, 503), 200: {"content": {"text/csv": {}}}},
)
async def export_clearances(_: Manager, request: Request, day: DayParam = None) -> Response:
    when = parse_day(day)
    lines = await to_thread.run_sync(_service(request).store.clearances, when)
    return _csv_response(clearances_csv(lines), f"clearances-{when.isoformat()}.csv")


@router.websocket("/ws/dashboard")
async def dashboard_socket(websocket: WebSocket) -> None:
    principal = await websocket_principal(websocket, *DASHBOARD_ROLES)
    if principal is None:
        return
    service = cast(DashboardService, websocket.app.state.dashboard)
    await websocket.accept()
    # Subscribed before the state is read, so nothing published meanwhile is missed.
    with service.hub.subscribe() as client:
        state = await service.state(principal)
        await websocket.send_text(live.message("state", state))
        tasks = [
            asyncio.create_task(_pump(websocket, client)),
            asyncio.create_task(_drain(websocket)),
            asyncio.create_task(_recheck_session(websocket)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            code = next(iter(done)).result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if code is not None and websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(code=code)


async def _pump(websocket: WebSocket, client: live.Client) -> int | None:
    """Send the hub's messages; returns a close code when the page fell too far behind."""
    while True:
        text = await client.queue.get()
        if client.dropped:
            return WS_TOO_SLOW
        await websocket.send_text(text)


async def _drain(websocket: WebSocket) -> int | None:
    """Read (and ignore) what the page sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            received: Mapping[str, Any] = await websocket.receive()
            if received.get("type") == "websocket.disconnect":
                break
    return None


async def _recheck_session(websocket: WebSocket) -> int | None:
    """Close the socket once its session has ended (signed out, expired)."""
    store = session_store(websocket.app)
    token = websocket.cookies.get(SESSION_COOKIE)
    while True:
        await asyncio.sleep(SESSION_RECHECK_S)
        if await store.resolve(token) is None:
            return WS_NOT_SIGNED_IN
