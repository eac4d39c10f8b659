"""Dashboard fixtures: the backend app in a TestClient with staff accounts, and helpers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.auth.roles import Role
from backend.auth.users import create_user
from backend.records.store import NewClearance, NewEvent, RecordsStore
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import (
    STREAM_ALERTS,
    Alert,
    Hall,
    Outcome,
    ReasonCode,
    encode_event,
)
from tests.backend.conftest import clearance_body, make_settings

PASSWORD = "correct horse battery"
USERS = {
    "mia": (Role.MANAGER, "Mia Manager"),
    "ada": (Role.ADMIN, "Ada Admin"),
    "olek": (Role.OFFICER, "Olek Officer"),
    "sue": (Role.SUPERVISOR, "Sue Supervisor"),
}


@pytest.fixture(autouse=True)
def _quick_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BORDERGATE_DASHBOARD_SAMPLE_INTERVAL_S", "0.5")
    monkeypatch.setenv("BORDERGATE_DASHBOARD_FORECAST_INTERVAL_S", "5")


def add_users(store: RecordsStore) -> None:
    for name, (role, display) in USERS.items():
        create_user(store, username=name, role=role, display_name=display, password=PASSWORD)


def sign_in(client: TestClient, username: str) -> None:
    client.headers["Origin"] = "http://testserver"  # as the dashboard page's own requests
    response = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


class Backend:
    """The app running in a TestClient, its Redis (sync client) and a client per role."""

    def __init__(self, app: FastAPI, client: TestClient, sync_redis: redis.Redis) -> None:
        self.app = app
        self.client = client
        self.redis = sync_redis

    @property
    def records(self) -> RecordsStore:
        store: RecordsStore = self.app.state.records
        return store

    def as_user(self, username: str) -> TestClient:
        """The app's client signed in as ``username`` (one client: its portal runs the app's
        event loop, which the app's Redis connections belong to)."""
        self.client.cookies.clear()
        sign_in(self.client, username)
        return self.client

    def signed_out(self) -> TestClient:
        self.client.cookies.clear()
        return self.client

    def publish_alert(self, hall: Hall = Hall.AIRPORT, **fields: Any) -> Alert:
        alert = Alert(
            hall=hall,
            severity=fields.pop("severity", "warning"),
            kind=fields.pop("kind", "forecast-at-risk"),
            message=fields.pop("message", f"{hall}: the next hour at risk"),
            **fields,
        )
        self.redis.xadd(STREAM_ALERTS, encode_event(alert))  # type: ignore[arg-type]
        return alert

    def wait_for_alert(self, event_id: str, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        store = self.app.state.dashboard.store
        while store.alert(event_id) is None:
            assert time.monotonic() < deadline, f"alert {event_id} not recorded"
            time.sleep(0.05)


def _backend(tmp_path: Path, redis_url: str | None) -> Iterator[Backend]:
    server = fakeredis.FakeServer() if redis_url is None else None
    app = create_app(make_settings(tmp_path, redis_url=redis_url), embedded_redis=server)
    sync_redis = (
        fakeredis.FakeRedis(server=server, decode_responses=True)
        if server is not None
        else redis.Redis.from_url(redis_url or "", decode_responses=True)
    )
    with TestClient(app) as client:
        add_users(app.state.records)
        yield Backend(app, client, sync_redis)
    sync_redis.close()


@pytest.fixture
def backend_app(tmp_path: Path) -> Iterator[Backend]:
    """The backend on the embedded fakeredis."""
    yield from _backend(tmp_path, None)


@pytest.fixture
def backend_real(tmp_path: Path, redis_url: str) -> Iterator[Backend]:
    """The backend on the real redis-server."""
    yield from _backend(tmp_path, redis_url)


def record_clearance(
    store: RecordsStore,
    decided_at: datetime,
    *,
    outcome: Outcome = Outcome.ADMIT,
    reasons: list[ReasonCode] | None = None,
    scheme: str | None = "citizen",
    **top: Any,
) -> None:
    request = ClearanceRequest.model_validate(clearance_body(**top))
    store.record_clearance(
        NewClearance(
            clearance_id=uuid.uuid4(),
            request=request,
            request_hash="0" * 64,
            outcome=outcome,
            reasons=reasons or [],
            scheme=scheme,
            permitted_until=None,
            decided_at=decided_at,
        ),
        NewEvent(
            event_id=uuid.uuid4().hex,
            stream="test",
            fields={"type": "test"},
            created_at=datetime.now(UTC),
        ),
    )


def wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
