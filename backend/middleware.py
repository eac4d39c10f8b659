"""Pure ASGI middleware: the request body limit and one structured log line per request."""

from __future__ import annotations

import json
import time

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)


async def _send_json(send: Send, status: int, body: dict[str, object]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _segments_match(pattern: str, path: str) -> bool:
    want, got = pattern.split("/"), path.split("/")
    return len(want) == len(got) and all(w in ("*", g) for w, g in zip(want, got, strict=True))


class _BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes`` before anything parses them, 408 for slow ones.

    A declared Content-Length over the limit is refused at once; otherwise the body is read
    (counting the bytes, so a chunked or lying sender is caught too) and handed on only if it
    fits. Bodies are small JSON documents, so buffering them is cheap. With ``body_timeout_s``
    the whole body must arrive within that time: a client dribbling it a byte at a time would
    otherwise hold a request (and its connection) open indefinitely.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        path_limits: dict[str, int] | None = None,
        body_timeout_s: float | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Routes that legitimately take bigger bodies (a ship's manifest), by exact path.
        self.path_limits = path_limits or {}
        self.body_timeout_s = body_timeout_s

    def _limit(self, path: str) -> int:
        """The path's own limit: an exact key, or a pattern key with ``*`` for one segment."""
        exact = self.path_limits.get(path)
        if exact is not None:
            return exact
        for pattern, limit in self.path_limits.items():
            if "*" in pattern and _segments_match(pattern, path):
                return limit
        return self.max_bytes

    @staticmethod
    def _too_large(limit: int) -> dict[str, object]:
        return {
            "error": "body_too_large",
            "message": f"request body exceeds the limit of {limit} bytes",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(
                        send, 400, {"error": "bad_request", "message": "invalid Content-Length"}
                    )
                    return
                if declared > limit:
                    await _send_json(send, 413, self._too_large(limit))
                    return
        try:
            with anyio.fail_after(self.body_timeout_s):
                body = await self._read(receive, limit)
        except _BodyTooLargeError:
            await _send_json(send, 413, self._too_large(limit))
            return
        except TimeoutError:
            await _send_json(
                send,
                408,
                {
                    "error": "body_timeout",
                    "message": f"request body not received within {self.body_timeout_s:g} s",
                },
            )
            return
        if body is None:
            return  # the client left; nothing to answer
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, limit: int) -> bytes | None:
        """The whole body (None if the client left); raises _BodyTooLargeError past ``limit``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


RECEIVED_AT = "received_at"
"""``request.state.received_at``: ``time.monotonic()`` when the request reached the app. Time
budgets count from here, not from the handler, which may start late (a hung auth lookup)."""


class RequestLogMiddleware:
    """One ``http.request`` log line per request: method, path, status, duration (no bodies);
    also stamps ``request.state.received_at``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})[RECEIVED_AT] = time.monotonic()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
