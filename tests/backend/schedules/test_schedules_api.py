"""POST /v1/schedules keeps each hall's expected flights and ship calls in Redis for the
queue monitor; GET reads them back."""

from __future__ import annotations

from typing import Any

import fakeredis
import httpx
import pytest

from backend.schedules.api import read_schedule
from bordergate.contracts import Hall, schedule_key
from bordergate.redis_conn import open_redis

FLIGHT = {"kind": "flight", "ref": "KE805", "hall": "airport",
          "at": "2026-07-05T12:20:00+08:00", "passengers": 260, "egate_share": 0.4}  # fmt: skip
SHIP = {"kind": "ship", "ref": "MSCSPL", "hall": "cruise", "at": "2026-07-05T08:00:00+08:00",
        "passengers": 4000, "egate_share": 0.55, "disembark_per_min": 30}  # fmt: skip


async def post(client: httpx.AsyncClient, *arrivals: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/schedules", json={"arrivals": list(arrivals)})


async def test_posted_calls_are_kept_per_hall_and_reposting_replaces(
    client: httpx.AsyncClient, embedded_redis: fakeredis.FakeServer
) -> None:
    response = await post(client, FLIGHT, SHIP)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2, "cancelled": 0}
    # The same flight again, later and fuller: it replaces itself rather than adding a second.
    assert (await post(client, {**FLIGHT, "at": "2026-07-05T12:45:00+08:00",
                                "passengers": 280})).status_code == 200  # fmt: skip
    airport = (await client.get("/v1/schedules/airport")).json()
    assert [(a["ref"], a["passengers"]) for a in airport["arrivals"]] == [("KE805", 280)]
    redis = open_redis(None, embedded_redis)
    [ship] = await read_schedule(redis, Hall.CRUISE)
    assert (ship.ref, ship.passengers, ship.disembark_per_min) == ("MSCSPL", 4000, 30)
    await redis.aclose()


async def test_a_cancelled_call_leaves_the_forecast(client: httpx.AsyncClient) -> None:
    await post(client, FLIGHT)
    response = await post(client, {**FLIGHT, "status": "cancelled"})
    assert response.json() == {"stored": 0, "cancelled": 1}
    assert (await client.get("/v1/schedules/airport")).json()["arrivals"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {**FLIGHT, "passengers": -1},
        {**FLIGHT, "hall": "seaport"},
        {**FLIGHT, "at": "2026-07-05T12:20:00"},  # no offset
        {**FLIGHT, "egate_share": 1.5},
        {**FLIGHT, "kind": "train"},
        {**FLIGHT, "gate": "B12"},
        {k: v for k, v in FLIGHT.items() if k != "passengers"},
    ],
    ids=["negative", "unknown-hall", "naive-time", "share", "kind", "unknown-field", "missing"],
)
async def test_bad_entries_are_422_and_change_nothing(
    client: httpx.AsyncClient, embedded_redis: fakeredis.FakeServer, bad: dict[str, Any]
) -> None:
    response = await post(client, SHIP, bad)
    assert response.status_code == 422
    redis = open_redis(None, embedded_redis)
    assert await redis.exists(schedule_key(Hall.CRUISE), schedule_key(Hall.AIRPORT)) == 0
    await redis.aclose()


async def test_unknown_hall_and_empty_update(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/schedules/seaport")).status_code == 422
    assert (await client.post("/v1/schedules", json={"arrivals": []})).status_code == 422


async def test_redis_down_is_a_clear_503(tmp_path: Any) -> None:
    from tests.backend.conftest import make_settings, running
    from tests.conftest import free_port

    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running(settings) as (_, client):
        response = await post(client, FLIGHT)
    assert response.status_code == 503
    assert response.json()["error"] == "redis_unavailable"
