"""Cruise fixtures: a tmp agencies file (valid, expired, revoked, not yet valid), manifest bodies,
a running app configured through the ``BORDERGATE_CRUISE_*`` environment."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from fastapi import FastAPI

from backend.settings import BackendSettings
from tests.backend.conftest import running

VALID = "L-TJ-CJ00001"
OTHER_VALID = "L-TJ-CJ00002"
EXPIRED = "L-TJ-CJ00090"
REVOKED = "L-TJ-CJ00091"
NOT_YET = "L-TJ-CJ00092"

AGENCIES_YAML = f"""\
agencies:
  - {{licence: {VALID}, name: Valid, valid_from: 2020-01-01, valid_until: 2099-12-31}}
  - {{licence: {OTHER_VALID}, name: Other, valid_from: 2020-01-01, valid_until: 2099-12-31}}
  - {{licence: {EXPIRED}, name: Expired, valid_from: 2015-01-01, valid_until: 2023-12-31}}
  - licence: {REVOKED}
    name: Revoked
    valid_from: 2020-01-01
    valid_until: 2099-12-31
    revoked: true
  - {{licence: {NOT_YET}, name: Later, valid_from: 2098-01-01, valid_until: 2099-12-31}}
"""

MANIFEST: dict[str, Any] = {
    "ship": {"name": "Blue Dream Star", "code": "BDSTAR"},
    "voyage": "BD2507-03",
    "port": "TSN-CRUISE",
    "agency_licence": VALID,
    "groups": [
        {
            "group_id": "G1",
            "members": [
                {"document_number": "X1000001", "nationality": "USA", "surname": "SMITHSECRET"},
                {"document_number": "X1000002", "nationality": "DEU", "given_names": "ANNA"},
                {"document_number": "X1000003", "nationality": "GBR"},
            ],
        },
        {
            "group_id": "G2",
            "members": [
                {"document_number": "Y2000001", "nationality": "JPN"},
                {"document_number": "Y2000002", "nationality": "KOR"},
            ],
        },
    ],
}
PII = ("X1000001", "SMITHSECRET", "Y2000002")


def manifest_body(arrival: datetime | None = None, **top: Any) -> dict[str, Any]:
    """A valid manifest arriving in 3 days (a CST morning) and leaving 2 days later."""
    if arrival is None:
        arrival = datetime.now(UTC) + timedelta(days=3)
    body = copy.deepcopy(MANIFEST)
    body["arrival"] = arrival.isoformat()
    body["departs_china"] = (arrival + timedelta(days=2)).isoformat()
    body.update(top)
    return body


def member(number: str, nationality: str = "USA") -> dict[str, str]:
    return {"document_number": number, "nationality": nationality}


@pytest.fixture
def agencies_file(tmp_path: Path) -> Path:
    path = tmp_path / "agencies.yaml"
    path.write_text(AGENCIES_YAML, encoding="utf-8")
    return path


@pytest.fixture
def cruise_env(monkeypatch: pytest.MonkeyPatch, agencies_file: Path) -> None:
    monkeypatch.setenv("BORDERGATE_CRUISE_AGENCIES_FILE", str(agencies_file))
    monkeypatch.delenv("BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H", raising=False)


@pytest.fixture
async def cruise_app(
    cruise_env: None, settings: BackendSettings, embedded_redis: fakeredis.FakeServer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(settings, embedded_redis) as pair:
        yield pair


@pytest.fixture
def cruise_client(cruise_app: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return cruise_app[1]
