"""The traveller screen's web app: the page, its translation table, and a websocket per lane.

GET  /                      -> the lane's page (one lane) or the list of lanes
GET  /lanes/                the lanes this server shows, with links
GET  /lanes/{lane_id}       the page (static HTML, CSS and JS; no build step, no CDN)
GET  /lanes/{lane_id}/view  the current view as JSON
GET  /i18n.json             the one translation table (kiosk.screen.translations)
WS   /ws/lanes/{lane_id}    the current view on connect, then every new view
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from bordergate.security_headers import SecurityHeadersMiddleware
from kiosk.screen.hub import LaneScreen, ScreenHub, Subscription
from kiosk.screen.translations import table_json
from kiosk.screen.view import ScreenView

STATIC_DIR = Path(str(files("kiosk.screen") / "static"))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
WS_GOING_AWAY = 1001
WS_UNKNOWN_LANE = 4404


class NotFound(BaseModel):
    detail: str


NO_SUCH_LANE: dict[int | str, dict[str, Any]] = {
    404: {"model": NotFound, "description": "This server shows no screen for that lane"}
}


def create_screen_app(hub: ScreenHub) -> FastAPI:
    app = FastAPI(
        title="bordergate traveller screen", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # The same headers as the backend's pages (this CSP also forbids forms); nothing is cached.
    app.add_middleware(SecurityHeadersMiddleware, csp=CSP)

    def lane_or_404(lane_id: str) -> LaneScreen:
        screen = hub.lanes.get(lane_id)
        if screen is None:
            raise HTTPException(status_code=404, detail=f"no screen for lane {lane_id!r}")
        return screen

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        if len(hub.lanes) == 1:
            (lane_id,) = hub.lanes
            return RedirectResponse(f"/lanes/{lane_id}")
        return RedirectResponse("/lanes/")

    @app.get("/lanes/", response_class=HTMLResponse)
    def lanes() -> str:
        items = "\n".join(
            f'<li><a href="/lanes/{html.escape(lane_id)}">{html.escape(lane_id)}</a></li>'
            for lane_id in sorted(hub.lanes)
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Traveller screens</title>"
            '<link rel="stylesheet" href="/static/screen.css"></head>'
            f'<body class="index"><h1>Traveller screens</h1><ul>{items}</ul></body></html>'
        )

    @app.get(
        "/lanes/{lane_id}",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}, **NO_SUCH_LANE},
    )
    def page(lane_id: str) -> FileResponse:
        lane_or_404(lane_id)
        return FileResponse(STATIC_DIR / "screen.html", media_type="text/html")

    @app.get("/lanes/{lane_id}/view", responses=NO_SUCH_LANE)
    def view(lane_id: str) -> ScreenView:
        return lane_or_404(lane_id).view

    @app.get("/i18n.json")
    def translations() -> dict[str, object]:
        return table_json()

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {"status": "ok", "lanes": sorted(hub.lanes)}

    @app.websocket("/ws/lanes/{lane_id}")
    async def feed(websocket: WebSocket, lane_id: str) -> None:
        screen = hub.lanes.get(lane_id)
        if screen is None:
            await websocket.close(code=WS_UNKNOWN_LANE)
            return
        await websocket.accept()
        queue = screen.subscribe()
        try:
            await _pump(websocket, queue)
        finally:
            screen.unsubscribe(queue)

    return app


async def _pump(websocket: WebSocket, queue: Subscription) -> None:
    """Send views until the hub closes or the page goes away, whichever comes first.

    Structured with an anyio task group so that a cancelled server (or test client) cancels
    both halves cleanly."""
    async with anyio.create_task_group() as tg:

        async def send() -> None:
            try:
                while (view := await queue.get()) is not None:
                    await websocket.send_text(view.model_dump_json())
                await websocket.close(code=WS_GOING_AWAY)
            except (WebSocketDisconnect, RuntimeError):  # the page went away mid-send
                pass
            tg.cancel_scope.cancel()

        async def receive() -> None:
            # The page sends nothing; reading is how a closed connection is noticed.
            try:
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
            except (WebSocketDisconnect, RuntimeError):
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(send)
        tg.start_soon(receive)
