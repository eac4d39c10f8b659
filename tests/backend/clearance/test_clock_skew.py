"""The backend decides on its own clock; a kiosk clock off by more than the tolerance refers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest

from tests.backend.conftest import clearance_body, make_settings, running


@pytest.mark.parametrize(
    ("offset_s", "outcome"),
    [(0, "admit"), (-100, "admit"), (100, "admit"), (-400, "refer"), (400, "refer")],
)
async def test_kiosk_clock_offset(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer, offset_s: int, outcome: str
) -> None:
    settings = make_settings(tmp_path, decision_clock="backend", clock_skew_tolerance_s=120)
    claimed = datetime.now(UTC) + timedelta(seconds=offset_s)
    async with running(settings, embedded_redis) as (_app, client):
        response = await client.post(
            "/v1/clearances", json=clearance_body(arrival_time=claimed.isoformat())
        )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["outcome"] == outcome
    decided_at = datetime.fromisoformat(decision["decided_at"])
    assert abs((decided_at - datetime.now(UTC)).total_seconds()) < 10  # ours, not the kiosk's
    if outcome == "refer":
        assert decision["reasons"] == ["device-error"]


async def test_request_clock_replays_a_past_case(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    # 'request' (the fixtures' default): the body's past arrival time is judged as it was.
    async with running(make_settings(tmp_path), embedded_redis) as (_app, client):
        response = await client.post("/v1/clearances", json=clearance_body())
    assert response.json()["outcome"] == "admit"
