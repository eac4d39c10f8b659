"""Opening Redis: a real server by URL, or an in-process fakeredis for the embedded default."""

from __future__ import annotations

import fakeredis
from redis.asyncio import Redis


def new_embedded_server() -> fakeredis.FakeServer:
    """One in-process Redis; pass it to every part that should share it."""
    return fakeredis.FakeServer()


def open_redis(url: str | None, embedded: fakeredis.FakeServer | None = None) -> Redis:
    """A client for ``url``, or for ``embedded`` (a fresh one if not given) when ``url`` is None.

    Responses are decoded to ``str``; socket timeouts keep a dead server from hanging a caller.
    """
    if url:
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=10,
        )
    server = embedded if embedded is not None else new_embedded_server()
    client: Redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return client
