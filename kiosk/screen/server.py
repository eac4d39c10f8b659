"""Serving the traveller screens under uvicorn, in the caller's event loop.

async with serve_screens(hub, "127.0.0.1", 0) as base_url:
    ...  # pages at f"{base_url}/lanes/{lane_id}"
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import structlog
import uvicorn

from kiosk.biometrics import FaceVerifier
from kiosk.runner import LaneStats, run_kiosk_process
from kiosk.screen.app import create_screen_app
from kiosk.screen.hub import ScreenHub
from kiosk.settings import KioskSettings

log = structlog.get_logger(__name__)


class ScreenServerError(RuntimeError):
    """The screen server could not start (e.g. its port is taken)."""


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process that embeds the screens owns SIGINT/SIGTERM and stops us itself.
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"cannot serve the traveller screens on {host}:{port}: {exc}"
        raise ScreenServerError(message) from exc
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def serve_screens(hub: ScreenHub, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``hub``'s lanes on ``host``:``port`` (0: any free port); yield the base URL.

    On exit the pages' feeds are closed and the server stops.
    """
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        create_screen_app(hub),
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="traveller-screens")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise ScreenServerError("the screen server stopped while starting")
            await asyncio.sleep(0.02)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}"
    finally:
        hub.close()
        server.should_exit = True
        await task
        sock.close()


async def run_kiosk_with_screen(
    settings: KioskSettings,
    verifier: FaceVerifier,
    *,
    max_travellers: int | None = None,
    on_url: Callable[[str], None] | None = None,
) -> LaneStats:
    """``bordergate kiosk``: one kiosk process serving its traveller page while it runs.

    The page is at ``http://{screen_host}:{screen_port}/lanes/{lane_id}`` (given to ``on_url``
    once the server listens; with port 0 the port is any free one).
    """
    hub = ScreenHub()
    hub.add_kiosk(settings)
    async with serve_screens(hub, settings.screen_host, settings.screen_port) as base:
        url = f"{base}/lanes/{settings.lane_id}"
        log.info("traveller screen serving", lane_id=settings.lane_id, url=url)
        if on_url is not None:
            on_url(url)
        return await run_kiosk_process(
            settings, verifier, max_travellers=max_travellers, observer=hub.observe
        )
