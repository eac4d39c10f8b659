"""Both Redis paths: the embedded fakeredis shared within a process, and a real server by URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bordergate.redis_conn import new_embedded_server, open_redis
from bordergate.settings import CommonSettings
from tests.reliability.cluster import RedisServer


async def test_embedded_server_is_shared_between_clients() -> None:
    server = new_embedded_server()
    a, b = open_redis(None, server), open_redis(None, server)
    await a.set("k", "v")
    assert await b.get("k") == "v"
    other = open_redis(None)  # a fresh embedded server sees nothing
    assert await other.get("k") is None
    for c in (a, b, other):
        await c.aclose()


@pytest.mark.redis
async def test_real_server_by_url(redis_url: str) -> None:
    client = open_redis(redis_url)
    assert await client.ping()
    await client.xadd("s", {"a": "1"})
    assert await client.xlen("s") == 1
    info = await client.info("server")
    assert str(info["executable"]).endswith("redis-server")  # a real server, not fakeredis
    await client.aclose()


def test_settings_read_redis_url_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BORDERGATE_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert CommonSettings().redis_url is None
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert CommonSettings().redis_url == "redis://127.0.0.1:1/0"
    monkeypatch.setenv("BORDERGATE_REDIS_URL", "redis://127.0.0.1:2/0")
    assert CommonSettings().redis_url == "redis://127.0.0.1:2/0"


@pytest.mark.slow
@pytest.mark.redis
async def test_pooled_connections_survive_a_redis_restart(tmp_path: Path) -> None:
    # Every pooled connection is stale after the restart; each command must still succeed.
    server = RedisServer(tmp_path, aof=False)
    server.start()
    client = open_redis(server.url)
    try:
        await asyncio.gather(*(client.blpop([f"q{i}"], 0.1) for i in range(4)))  # 4 connections
        server.kill()
        server.start()
        for _ in range(3):
            assert await asyncio.gather(*(client.set(f"k{i}", "v") for i in range(4))) == [True] * 4
    finally:
        await client.aclose()
        server.stop()
