"""The body-limit middleware on its own, with raw ASGI messages."""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send

from backend.middleware import BodyLimitMiddleware


class Recorder:
    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/v1/clearances", "headers": headers}


async def call(
    mw: BodyLimitMiddleware, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[list[Message], int]:
    sent: list[Message] = []
    pending = list(chunks)
    receives = 0

    async def receive() -> Message:
        nonlocal receives
        receives += 1
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    await mw(scope(headers), receive, send)
    return sent, receives


async def test_declared_length_over_the_limit_is_refused_without_reading() -> None:
    app = Recorder()
    sent, receives = await call(
        BodyLimitMiddleware(app, max_bytes=100), [(b"content-length", b"1000000000")], [b"{}"]
    )
    assert receives == 0  # not a byte read
    assert not app.called
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "body_too_large"


async def test_lying_content_length_is_caught_by_counting() -> None:
    app = Recorder()
    sent, _ = await call(
        BodyLimitMiddleware(app, max_bytes=100),
        [(b"content-length", b"10")],
        [b"x" * 60, b"x" * 60],
    )
    assert not app.called
    assert sent[0]["status"] == 413


async def test_body_at_the_limit_is_passed_on_whole() -> None:
    app = Recorder()
    sent, _ = await call(BodyLimitMiddleware(app, max_bytes=100), [], [b"a" * 50, b"b" * 50])
    assert app.called
    assert app.body == b"a" * 50 + b"b" * 50
    assert sent[0]["status"] == 204


async def test_invalid_content_length_is_a_400() -> None:
    app = Recorder()
    sent, _ = await call(BodyLimitMiddleware(app, max_bytes=100), [(b"content-length", b"x")], [])
    assert not app.called
    assert sent[0]["status"] == 400


async def test_a_body_that_never_finishes_gets_408_at_the_deadline() -> None:
    import asyncio
    import time

    app = Recorder()
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(0.05)  # a byte now and then, never the end
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    mw = BodyLimitMiddleware(app, max_bytes=1000, body_timeout_s=0.3)
    started = time.monotonic()
    await mw(scope([]), receive, send)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert not app.called
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["error"] == "body_timeout"
