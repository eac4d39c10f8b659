"""Referral fixtures: a running backend, staff accounts, signed-in clients, kiosk devices."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import fakeredis
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from backend.auth.roles import Role
from backend.settings import BackendSettings
from tests.auth_helpers import add_user, device_headers, sign_in
from tests.backend.api.test_clearance_schemes import ARRIVAL, INBOUND, passes, traveller
from tests.backend.conftest import running
from tests.backend.journey.test_evidence import leg

STAFF = {
    "olga": Role.OFFICER,
    "wang": Role.OFFICER,
    "sam": Role.SUPERVISOR,
    "mia": Role.MANAGER,
    "ada": Role.ADMIN,
}
ONWARD = leg("NH906", "TSN", "NRT", ARRIVAL.date() + timedelta(days=2))
STAY = "2026-07-16T00:00:00+08:00"


def referred_transit(**face: Any) -> dict[str, Any]:
    """A transit traveller the policy admits for 240 hours, but whose face did not match."""
    body = traveller(journey=passes(INBOUND, ONWARD))
    body["face"].update({"matched": False, "score": 0.31, **face})
    return body


def jpeg(width: int = 120, height: int = 160, seed: int = 1) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kiosk_report(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "reasons": ["liveness-failed"],
        "detail": "blink not seen",
        "document": {
            "document_type": "P",
            "issuing_state": "D",
            "nationality": "D",
            "document_number": "C01X00T47",
            "surname": "MUELLER",
            "given_names": "ANNA",
            "birth_date": "1990-01-01",
            "expiry_date": "2031-01-01",
            "sex": "F",
            "check_digits_valid": True,
            "chip_authenticated": True,
        },
        "face": {"matched": True, "score": 0.8, "liveness": "failed"},
    }
    body.update(over)
    return body


class Backend:
    """The app, its kiosk client (device-authenticated clearances) and staff clients."""

    def __init__(self, app: FastAPI, kiosk: httpx.AsyncClient, stack: AsyncExitStack) -> None:
        self.app = app
        self.kiosk = kiosk
        self._stack = stack

    async def staff(self, username: str) -> httpx.AsyncClient:
        client = await self._stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app),
                base_url="http://backend",
                headers={"X-Bordergate-Console": "1"},
            )
        )
        response = await sign_in(client, username)
        assert response.status_code == 200, response.text
        return client

    def device(self, hall: str = "airport", lane_id: str = "A-01") -> dict[str, str]:
        return device_headers(self.app.state.records, hall, lane_id)

    async def refer(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.kiosk.post("/v1/clearances", json=body or referred_transit())
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        assert decision["outcome"] == "refer"
        return decision


@pytest.fixture
async def backend_with_staff(
    settings: BackendSettings, embedded_redis: fakeredis.FakeServer
) -> AsyncIterator[Backend]:
    async with AsyncExitStack() as stack:
        app, kiosk = await stack.enter_async_context(running(settings, embedded_redis))
        for name, role in STAFF.items():
            add_user(app.state.records, name, role, language="zh" if name == "wang" else "en")
        yield Backend(app, kiosk, stack)
