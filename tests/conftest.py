"""Shared fixtures: a real redis-server on a free loopback port, embedded fakeredis, test data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import fakeredis
import pytest
import redis

from bordergate.redis_conn import open_redis

pytest_plugins = ["tests.browser", "tests.postgres"]

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start Debian's redis-server on a free loopback port; yield its URL; stop it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; run scripts/setup.sh test")
        pytest.skip("redis-server is not installed; run scripts/setup.sh test")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The real server's URL, flushed before each test so tests do not see each other's data."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def embedded_redis() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
async def fake_redis(embedded_redis: fakeredis.FakeServer) -> AsyncIterator[object]:
    client = open_redis(None, embedded_redis)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def test_data_dir() -> Path:
    """``BORDERGATE_TEST_DATA`` (default ``../shared/data``); skips where absent (CI has it)."""
    path = Path(os.environ.get("BORDERGATE_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"test data not found at {path}; set BORDERGATE_TEST_DATA")
    return path


RELIABILITY_AREAS = ("faults", "load", "hostile", "security")


@dataclass(frozen=True)
class ReliabilityCase:
    """What a reliability case injects, what it checks was kept, and what it measured.

    Recorded as junit properties; ``benchmarks/reliability.py`` builds docs/reliability.md from
    them, so the report always says what the tests really did.
    """

    request: pytest.FixtureRequest

    def _record(self, key: str, value: object) -> None:
        self.request.node.user_properties.append((key, str(value)))

    def injects(self, what: str) -> None:
        self._record("injects", what)

    def asserts(self, what: str) -> None:
        self._record("asserts", what)

    def measured(self, name: str, value: object, unit: str = "") -> None:
        self._record(f"measured:{name}", f"{value} {unit}".strip())


@pytest.fixture
def reliability_case(request: pytest.FixtureRequest) -> ReliabilityCase:
    """For tests marked ``@pytest.mark.reliability("faults"|"load"|"hostile"|"security")``."""
    marker = request.node.get_closest_marker("reliability")
    if marker is None or not marker.args or marker.args[0] not in RELIABILITY_AREAS:
        pytest.fail(f"reliability_case needs @pytest.mark.reliability(one of {RELIABILITY_AREAS})")
    request.node.user_properties.append(("area", marker.args[0]))
    return ReliabilityCase(request)
