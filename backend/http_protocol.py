"""uvicorn's h11 protocol with a deadline for request headers (slowloris).

uvicorn times out only idle keep-alive connections, and only after a response: a client that
connects and sends nothing, or dribbles its headers a byte at a time, holds its connection (and a
file descriptor) for as long as it likes. Here every request's headers must be complete within
``header_timeout_s`` of the connection opening or of the previous response; otherwise the
connection is closed. Bodies have their own deadline (``backend.middleware.BodyLimitMiddleware``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineH11Protocol(H11Protocol):
    header_timeout_s = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the websocket protocol owns the transport from here
        super().handle_websocket_upgrade(event)

    def _arm(self) -> None:
        self._disarm()
        waiting_since = self.cycle  # a new request replaces the cycle once its headers are in
        self._header_deadline = self.loop.call_later(
            self.header_timeout_s, self._headers_late, waiting_since
        )

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self, waiting_since: object) -> None:
        self._header_deadline = None
        if self.cycle is waiting_since and not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(timeout_s: float) -> type[HeaderDeadlineH11Protocol]:
    """The protocol class with its own deadline (for a single-process server)."""
    if timeout_s == DEFAULT_HEADER_TIMEOUT_S:
        return HeaderDeadlineH11Protocol
    return type(
        "HeaderDeadlineH11Protocol", (HeaderDeadlineH11Protocol,), {"header_timeout_s": timeout_s}
    )


@functools.cache
def _env_header_timeout_s() -> float:
    raw = os.environ.get("BORDERGATE_REQUEST_HEADER_TIMEOUT_S")
    return float(raw) if raw else DEFAULT_HEADER_TIMEOUT_S


class EnvHeaderDeadlineH11Protocol(HeaderDeadlineH11Protocol):
    """For ``--workers`` processes, which get the protocol by name: the deadline comes from
    ``BORDERGATE_REQUEST_HEADER_TIMEOUT_S`` (the supervisor puts the setting there)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = _env_header_timeout_s()
