"""Kiosk test helpers: synthetic faces, a fake verifier, fake backends, fast settings."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from bordergate.clearance_api import FaceResult
from bordergate.contracts import Hall
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.biometrics import RGBImage
from kiosk.settings import KioskSettings

NO_SURPRISES = PopulationMix(
    citizens=0.0,
    expired=0.0,
    forged_check_digit=0.0,
    impostors=0.0,
    walk_away=0.0,
    missing_journey=0.0,
)


class FakeVerifier:
    """Implements kiosk.biometrics.FaceVerifier; says 'same face' unless told otherwise."""

    def __init__(self, matched: bool = True, error: Exception | None = None) -> None:
        self.matched = matched
        self.error = error
        self.calls: list[tuple[int, tuple[int, ...]]] = []

    def verify(self, live: Sequence[RGBImage], reference: RGBImage) -> FaceResult:
        for image in [*live, reference]:
            assert image.dtype == np.uint8
            assert image.ndim == 3
            assert image.shape[2] == 3
            assert image.flags["C_CONTIGUOUS"]
        self.calls.append((len(live), reference.shape))
        if self.error is not None:
            raise self.error
        return FaceResult(matched=self.matched, score=0.9 if self.matched else 0.2)


@pytest.fixture
def faces_dir(tmp_path: Path) -> Path:
    """Two synthetic 'identities' of three 125x125 pictures each (no real data needed)."""
    root = tmp_path / "faces"
    rng = np.random.default_rng(7)
    for name in ("alpha", "beta"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (125, 125, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{i}.jpg")
    return root


@pytest.fixture
def factory(faces_dir: Path) -> TravellerFactory:
    return TravellerFactory(seed=11, hall=Hall.AIRPORT, faces_dir=faces_dir, mix=NO_SURPRISES)


@pytest.fixture
def settings() -> KioskSettings:
    return KioskSettings(
        lane_id="T1",
        hall=Hall.AIRPORT,
        speed=100.0,
        device_grace_s=0.1,
        backend_timeout_s=0.5,
        verify_timeout_s=2.0,
        burst_interval_s=0.0,
        heartbeat_interval_s=0.05,
        idle_poll_s=0.05,
        redis_timeout_s=0.3,
    )


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``predicate`` (test helper; fails with TimeoutError)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polling mock state is what a test wants
            await asyncio.sleep(0.01)


Handler = Callable[[httpx.Request], httpx.Response]


def decision_for(request: httpx.Request, outcome: str = "admit", **extra: Any) -> dict[str, Any]:
    body = json.loads(request.content)
    data: dict[str, Any] = {
        "clearance_id": str(uuid.uuid4()),
        "request_id": body["request_id"],
        "outcome": outcome,
        "reasons": [] if outcome == "admit" else ["no-scheme"],
        "scheme": "transit-144h" if outcome == "admit" else None,
        "permitted_until": None,
        "decided_at": datetime.now(UTC).isoformat(),
    }
    data.update(extra)
    return data


class RecordingBackend:
    """An httpx MockTransport handler that records every request body."""

    def __init__(self, respond: Handler | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.respond = respond or (lambda req: httpx.Response(201, json=decision_for(req)))
        self.referrals: list[dict[str, Any]] = []
        """Referral reports (``POST /v1/referrals``), answered with a new referral id."""
        self.photos: dict[str, dict[str, Any]] = {}
        """Photo uploads by referral id (``PUT /v1/referrals/{id}/photos``)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/referrals" and request.method == "POST":
            self.referrals.append(json.loads(request.content))
            return httpx.Response(201, json={"referral_id": str(uuid.uuid4()), "created": True})
        if path.startswith("/v1/referrals/") and path.endswith("/photos"):
            referral_id = path.split("/")[3]
            self.photos[referral_id] = json.loads(request.content)
            return httpx.Response(200, json={"stored": []})
        assert path == "/v1/clearances"
        self.requests.append(json.loads(request.content))
        return self.respond(request)

    def client(self, timeout_s: float = 0.5) -> BackendClient:
        return BackendClient("http://backend.test", timeout_s, transport=httpx.MockTransport(self))
