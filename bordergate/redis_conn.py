"""Opening Redis: a real server by URL, or an in-process fakeredis for the embedded default."""

from __future__ import annotations

import fakeredis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff


def new_embedded_server() -> fakeredis.FakeServer:
    """One in-process Redis; pass it to every part that should share it."""
    return fakeredis.FakeServer()


def open_redis(url: str | None, embedded: fakeredis.FakeServer | None = None) -> Redis:
    """A client for ``url``, or for ``embedded`` (a fresh one if not given) when ``url`` is None.

    Responses are decoded to ``str``; socket timeouts keep a dead server from hanging a caller.
    A command that fails on a broken connection is retried twice, quickly: ``Redis.from_url``
    gives pooled connections no retry at all, so after a Redis restart every pooled connection
    would fail its next command once (a 503, a monitor back-off) although Redis is back.
    """
    if url:
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=10,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2),
        )
    server = embedded if embedded is not None else new_embedded_server()
    client: Redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return client
