"""Backend fixtures: settings on a tmp SQLite file, a running app with a client, request bodies."""

from __future__ import annotations

import contextlib
import copy
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import text

from backend.app import create_app
from backend.records.store import RecordsStore
from backend.records.tables import ClearanceRecord
from backend.settings import BackendSettings
from tests.auth_helpers import LaneDevices

BASE_REQUEST: dict[str, Any] = {
    "hall": "airport",
    "lane_id": "A-01",
    "arrival_time": "2025-07-01T10:30:00+08:00",
    "document": {
        "document_type": "P",
        "issuing_state": "CHN",
        "nationality": "CHN",
        "document_number": "E98765432",
        "surname": "ZHANGSECRET",
        "given_names": "WEIHIDDEN",
        "birth_date": "1985-03-14",
        "expiry_date": "2030-01-01",
        "sex": "M",
        "check_digits_valid": True,
        "chip_authenticated": True,
    },
    "face": {"matched": True, "score": 0.93, "liveness": "passed"},
}
PII_VALUES = ("E98765432", "ZHANGSECRET", "WEIHIDDEN", "1985-03-14")


def clearance_body(
    *,
    document: dict[str, Any] | None = None,
    face: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A valid ClearanceRequest body (a CHN citizen, all checks passed) with overrides."""
    body = copy.deepcopy(BASE_REQUEST)
    body["request_id"] = str(uuid.uuid4())
    body["document"].update(document or {})
    body["face"].update(face or {})
    body.update(top)
    return body


def make_settings(tmp_path: Path, **overrides: Any) -> BackendSettings:
    values: dict[str, Any] = {
        "redis_url": None,
        "database_url": f"sqlite:///{tmp_path / 'records' / 'bordergate.sqlite3'}",
        "outbox_replay_interval_s": 0.05,
        "outbox_replay_grace_s": 0.0,
        "log_json": True,
        # The bodies carry fixed past arrival times: decide on them (the service's 'request'
        # clock), not on today's clock, which would refer them as a kiosk clock far off.
        "decision_clock": "request",
    }
    values.update(overrides)
    return BackendSettings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> BackendSettings:
    return make_settings(tmp_path)


@contextlib.asynccontextmanager
async def running(
    settings: BackendSettings, embedded: fakeredis.FakeServer | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running, and a client talking to it in-process.

    The client posts clearances as a registered kiosk of the body's lane (``LaneDevices``).
    """
    app = create_app(settings, embedded_redis=embedded)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://backend",
            auth=LaneDevices(app.state.records),
        ) as client,
    ):
        yield app, client


@pytest.fixture
async def backend(
    settings: BackendSettings, embedded_redis: fakeredis.FakeServer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(settings, embedded_redis) as pair:
        yield pair


@pytest.fixture
async def client(backend: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return backend[1]


class RedisProcess:
    """A dedicated redis-server on a fixed port, started and stopped by this test (by PID)."""

    def __init__(self, port: int, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        probe = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        self.stop()
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            probe.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    from tests.conftest import free_port

    proc = RedisProcess(free_port(), tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def count_rows(app: FastAPI, table: str) -> int:
    store: RecordsStore = app.state.records
    with store.engine.connect() as conn:
        n: int = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        return n


def stored_clearance(app: FastAPI, clearance_id: str) -> ClearanceRecord:
    store: RecordsStore = app.state.records
    with store.session() as session:
        row = session.get(ClearanceRecord, uuid.UUID(clearance_id))
        assert row is not None, clearance_id
        session.expunge(row)
        return row
