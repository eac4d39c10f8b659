"""Kiosk device tokens on POST /v1/clearances, and the admin API that hands them out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from backend.audit.chain import recent_entries
from backend.auth.devices import list_devices, revoke_device
from backend.auth.roles import Role
from backend.records.store import RecordsStore
from tests.auth_helpers import add_user, device_headers, device_token, sign_in
from tests.backend.conftest import clearance_body, count_rows

URL = "/v1/clearances"


@pytest.fixture
async def raw(backend: tuple[FastAPI, httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    """A client that adds no device token by itself."""
    app, _ = backend
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://backend"
    ) as client:
        yield client


def store_of(backend: tuple[FastAPI, httpx.AsyncClient]) -> RecordsStore:
    store: RecordsStore = backend[0].state.records
    return store


async def test_a_registered_device_clears_on_its_own_lane(
    backend: tuple[FastAPI, httpx.AsyncClient], raw: httpx.AsyncClient
) -> None:
    headers = device_headers(store_of(backend), "airport", "A-01")
    response = await raw.post(URL, json=clearance_body(), headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer bgd_not-a-real-token"],
)
async def test_missing_or_unknown_tokens_are_refused_and_nothing_is_recorded(
    backend: tuple[FastAPI, httpx.AsyncClient], raw: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await raw.post(URL, json=clearance_body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] in {"device_token_missing", "device_unknown"}
    assert count_rows(backend[0], "clearances") == 0


async def test_a_revoked_device_is_refused(
    backend: tuple[FastAPI, httpx.AsyncClient], raw: httpx.AsyncClient
) -> None:
    store = store_of(backend)
    token = device_token(store, "airport", "A-01")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await raw.post(URL, json=clearance_body(), headers=headers)).status_code == 200
    [device] = list_devices(store)
    revoke_device(store, device.device_id, actor="test")
    response = await raw.post(URL, json=clearance_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "device_unknown"
    assert count_rows(backend[0], "clearances") == 1


@pytest.mark.parametrize(("hall", "lane"), [("airport", "A-02"), ("cruise", "A-01")])
async def test_a_device_cannot_clear_for_another_lane(
    backend: tuple[FastAPI, httpx.AsyncClient], raw: httpx.AsyncClient, hall: str, lane: str
) -> None:
    headers = device_headers(store_of(backend), "airport", "A-01")
    response = await raw.post(URL, json=clearance_body(hall=hall, lane_id=lane), headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "device_lane_mismatch"
    assert count_rows(backend[0], "clearances") == 0


async def test_admins_register_list_and_revoke_devices(
    backend: tuple[FastAPI, httpx.AsyncClient], raw: httpx.AsyncClient
) -> None:
    store = store_of(backend)
    add_user(store, "ada", Role.ADMIN)
    add_user(store, "olga", Role.OFFICER)

    assert (await raw.get("/v1/devices")).status_code == 401
    await sign_in(raw, "olga")
    assert (await raw.get("/v1/devices")).status_code == 403
    assert (
        await raw.post("/v1/devices", json={"hall": "cruise", "lane_id": "C3"})
    ).status_code == 403

    await sign_in(raw, "ada")
    created = await raw.post("/v1/devices", json={"hall": "cruise", "lane_id": "C3"})
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["active"] is True
    assert device["token"].startswith("bgd_")

    kiosk = {"Authorization": f"Bearer {device['token']}"}
    body = clearance_body(hall="cruise", lane_id="C3")
    assert (await raw.post(URL, json=body, headers=kiosk)).status_code == 200

    listed = (await raw.get("/v1/devices")).json()
    assert [d["device_id"] for d in listed] == [device["device_id"]]
    assert "token" not in listed[0]

    revoked = await raw.post(f"/v1/devices/{device['device_id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    again = await raw.post(URL, json=clearance_body(hall="cruise", lane_id="C3"), headers=kiosk)
    assert again.status_code == 401

    assert (await raw.post("/v1/devices/dev-nope/revoke")).status_code == 404
    bad = await raw.post("/v1/devices", json={"hall": "moon", "lane_id": "C3"})
    assert bad.status_code == 422

    kinds = [(e.kind, e.actor) for e in recent_entries(store)]
    assert ("device-registered", "ada") in kinds
    assert ("device-revoked", "ada") in kinds
