"""Console fixtures: the backend under Starlette's TestClient (websockets), staff, desks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
import redis
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.auth.roles import Role
from bordergate.contracts import Hall, LaneState, lane_state_key
from tests.auth_helpers import TEST_PASSWORD, add_user, device_token
from tests.backend.conftest import make_settings

STAFF = {"olga": Role.OFFICER, "wang": Role.OFFICER, "sam": Role.SUPERVISOR, "mia": Role.MANAGER}


def desks(hall: Hall, n: int = 3, open_: int = 1) -> dict[str, str]:
    """The lane-state hash the queue monitor writes: e-gates and ``n`` officer desks."""
    now = datetime.now(UTC) - timedelta(hours=1)
    lanes = [
        LaneState(
            lane_id="egate-01", hall=hall, lane_type="egate", status="open", since=now,
            ready_at=now, closable_at=now,
        )
    ]  # fmt: skip
    for i in range(1, n + 1):
        is_open = i <= open_
        lanes.append(
            LaneState(
                lane_id=f"officer-{i:02d}",
                hall=hall,
                lane_type="officer",
                status="open" if is_open else "closed",
                since=now,
                ready_at=now if is_open else None,
                closable_at=now if is_open else None,
            )
        )
    return {lane.lane_id: lane.model_dump_json() for lane in lanes}


class Console:
    def __init__(self, client: TestClient, server: fakeredis.FakeServer) -> None:
        self.client = client
        self.app = client.app
        self.server = server
        self.redis = fakeredis.FakeRedis(server=server, decode_responses=True)

    def staff(self, username: str) -> TestClient:
        """A client signed in as ``username`` (its own cookie jar, the same app)."""
        other = TestClient(self.app)
        # The app's loop: its Redis client and tasks live there (a client's own portal would
        # run each request on a fresh loop).
        other.portal = self.client.portal
        other.headers["X-Bordergate-Console"] = "1"
        other.headers["Origin"] = "http://testserver"  # as the console page's own requests
        response = other.post(
            "/v1/auth/login", json={"username": username, "password": TEST_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return other

    def device(self, hall: str = "airport", lane_id: str = "A-01") -> dict[str, str]:
        token = device_token(self.app.state.records, hall, lane_id)  # type: ignore[attr-defined]
        return {"Authorization": f"Bearer {token}"}

    def seed_desks(self, hall: Hall = Hall.AIRPORT, n: int = 3, open_: int = 1) -> None:
        self.redis.hset(lane_state_key(hall), mapping=desks(hall, n, open_))


@pytest.fixture
def console(tmp_path: Path, embedded_redis: fakeredis.FakeServer) -> Iterator[Console]:
    app = create_app(make_settings(tmp_path), embedded_redis=embedded_redis)
    with TestClient(app) as client:
        for name, role in STAFF.items():
            add_user(app.state.records, name, role, language="zh" if name == "wang" else "en")
        yield Console(client, embedded_redis)


@pytest.fixture
def real_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()
