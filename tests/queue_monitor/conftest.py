"""Fixtures of the queue monitor tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import fakeredis
import pytest
from redis.asyncio import Redis

from bordergate.redis_conn import open_redis


@pytest.fixture
async def redis(embedded_redis: fakeredis.FakeServer) -> AsyncIterator[Redis]:
    """A client of the test's in-process Redis (fakeredis)."""
    client = open_redis(None, embedded_redis)
    yield client
    await client.aclose()
