"""POST/GET /v1/manifests: validation, licences, lead time, idempotency, amendments."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import func, select

from backend.records.store import RecordsStore
from backend.records.tables import CruiseManifestMember, CruiseManifestRow
from tests.backend.conftest import make_settings, running
from tests.backend.cruise.conftest import (
    EXPIRED,
    NOT_YET,
    OTHER_VALID,
    PII,
    REVOKED,
    manifest_body,
    member,
)

pytestmark = pytest.mark.usefixtures("cruise_env")


def stored_counts(app: FastAPI) -> tuple[int, int]:
    store: RecordsStore = app.state.records
    with store.session() as session:
        manifests = session.execute(select(func.count()).select_from(CruiseManifestRow))
        members = session.execute(select(func.count()).select_from(CruiseManifestMember))
        return manifests.scalar_one(), members.scalar_one()


def messages(response: httpx.Response) -> str:
    body = response.json()
    return " ".join([body["message"], *(d["msg"] for d in body.get("detail") or [])])


async def test_submit_then_get_round_trip(cruise_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = cruise_app
    body = manifest_body()
    response = await client.post("/v1/manifests", json=body)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "created"
    assert receipt["version"] == 1
    assert (receipt["groups"], receipt["members"]) == (2, 5)
    assert "Idempotent-Replayed" not in response.headers
    assert stored_counts(app) == (1, 5)

    got = await client.get(f"/v1/manifests/{receipt['manifest_id']}")
    assert got.status_code == 200
    view = got.json()
    assert view["manifest_id"] == receipt["manifest_id"]
    assert view["ship"] == body["ship"]
    assert view["voyage"] == body["voyage"]
    assert datetime.fromisoformat(view["arrival"]) == datetime.fromisoformat(body["arrival"])
    assert [g["group_id"] for g in view["groups"]] == ["G1", "G2"]
    first = view["groups"][0]["members"]
    assert [m["document_number"] for m in first] == ["X1000001", "X1000002", "X1000003"]
    assert first[0]["surname"] == "SMITHSECRET"
    assert first[1]["nationality"] == "D"  # DEU is stored as ICAO's D


async def test_get_unknown_and_malformed_ids(cruise_client: httpx.AsyncClient) -> None:
    missing = await cruise_client.get("/v1/manifests/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"] == "manifest_not_found"
    assert (await cruise_client.get("/v1/manifests/not-a-uuid")).status_code == 422


def _with_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return manifest_body(groups=groups)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _with_groups([{"group_id": "G1", "members": [member("A1")]}]),
            "at least 2 members",
            id="group-of-one",
        ),
        pytest.param(
            _with_groups([{"group_id": "G1", "members": [member("A1"), member("A2", "ZZZ")]}]),
            "unknown country or region code",
            id="unknown-nationality",
        ),
        pytest.param(
            _with_groups([{"group_id": "G1", "members": [member("A1"), member("A2", "CHN")]}]),
            "not foreign tourists",
            id="chinese-citizen",
        ),
        pytest.param(
            _with_groups([{"group_id": "G1", "members": [member("A1", "TWN"), member("A2")]}]),
            "not foreign tourists",
            id="taiwan-region",
        ),
        pytest.param(
            _with_groups(
                [
                    {"group_id": "G1", "members": [member("A1"), member("A2")]},
                    {"group_id": "G2", "members": [member("A3"), member("A1", "GBR")]},
                ]
            ),
            "groups[1].members[1]: the document number is already listed at groups[0].members[0]",
            id="duplicate-document",
        ),
        pytest.param(
            _with_groups(
                [
                    {"group_id": "G1", "members": [member("A1"), member("A2")]},
                    {"group_id": "G1", "members": [member("A3"), member("A4")]},
                ]
            ),
            "group_id is used by an earlier group",
            id="duplicate-group-id",
        ),
        pytest.param(_with_groups([]), "at least 1 item", id="no-groups"),
        pytest.param(
            manifest_body(agency_licence="bad licence!"), "should match pattern", id="licence-form"
        ),
        pytest.param(manifest_body(port="TSN-AIRPORT"), "TSN-CRUISE", id="wrong-port"),
        pytest.param(manifest_body(extra="x"), "Extra inputs", id="extra-field"),
    ],
)
async def test_invalid_manifests_are_422_and_not_stored(
    cruise_app: tuple[FastAPI, httpx.AsyncClient], body: dict[str, Any], expected: str
) -> None:
    app, client = cruise_app
    response = await client.post("/v1/manifests", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert expected in messages(response)
    assert stored_counts(app) == (0, 0)


async def test_dates_must_be_aware_and_ordered(cruise_client: httpx.AsyncClient) -> None:
    body = manifest_body()
    body["departs_china"] = body["arrival"]
    response = await cruise_client.post("/v1/manifests", json=body)
    assert response.status_code == 422
    assert "departs_china must be after arrival" in messages(response)

    naive = manifest_body()
    naive["arrival"] = "2099-07-01T08:00:00"
    response = await cruise_client.post("/v1/manifests", json=naive)
    assert response.status_code == 422
    assert ["body", "arrival"] in [d["loc"] for d in response.json()["detail"]]


async def test_strict_types_no_coercion(cruise_client: httpx.AsyncClient) -> None:
    body = manifest_body()
    body["groups"][0]["members"][0]["document_number"] = 12345678
    response = await cruise_client.post("/v1/manifests", json=body)
    assert response.status_code == 422


async def test_malformed_json_is_422(cruise_client: httpx.AsyncClient) -> None:
    response = await cruise_client.post(
        "/v1/manifests", content=b'{"ship": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "malformed_json"


async def test_validation_errors_do_not_echo_identity_data(
    cruise_client: httpx.AsyncClient,
) -> None:
    body = manifest_body()
    body["groups"][1]["members"][1]["document_number"] = "X1000001"  # duplicate
    body["groups"][0]["members"][0]["surname"] = "SMITHSECRET" * 5  # too long
    with structlog.testing.capture_logs() as logs:
        response = await cruise_client.post("/v1/manifests", json=body)
    assert response.status_code == 422
    for value in PII:
        assert value not in response.text
        assert value not in repr(logs)


@pytest.mark.parametrize(
    ("licence", "reason"),
    [
        ("L-XX-UNKNOWN", "is not a licensed travel agency"),
        (EXPIRED, "has expired"),
        (REVOKED, "has been revoked"),
        (NOT_YET, "is not valid yet"),
    ],
)
async def test_unlicensed_agency_is_403_and_nothing_stored(
    cruise_app: tuple[FastAPI, httpx.AsyncClient], licence: str, reason: str
) -> None:
    app, client = cruise_app
    response = await client.post("/v1/manifests", json=manifest_body(agency_licence=licence))
    assert response.status_code == 403
    assert response.json()["error"] == "agency_not_licensed"
    assert reason in response.json()["message"]
    assert stored_counts(app) == (0, 0)


async def test_lead_time_default_is_24_hours(cruise_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = cruise_app
    soon = datetime.now(UTC) + timedelta(hours=23)
    response = await client.post("/v1/manifests", json=manifest_body(soon))
    assert response.status_code == 422
    assert response.json()["error"] == "manifest_too_late"
    assert "24 h" in response.json()["message"]
    assert stored_counts(app) == (0, 0)

    later = datetime.now(UTC) + timedelta(hours=25)
    response = await client.post("/v1/manifests", json=manifest_body(later))
    assert response.status_code == 201


async def test_lead_time_setting_zero_allows_ships_arriving_soon(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    embedded_redis: fakeredis.FakeServer,
) -> None:
    monkeypatch.setenv("BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H", "0")
    async with running(make_settings(tmp_path), embedded_redis) as (_, client):
        soon = datetime.now(UTC) + timedelta(minutes=10)
        assert (await client.post("/v1/manifests", json=manifest_body(soon))).status_code == 201
        arrived = datetime.now(UTC) - timedelta(minutes=10)
        late = await client.post("/v1/manifests", json=manifest_body(arrived, voyage="V2"))
        assert late.status_code == 422
        assert late.json()["message"] == "the name list must be submitted before the ship's arrival"


async def test_manifest_body_limit_is_its_own(
    cruise_env: None, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    # A ship's list is far bigger than a clearance request: the route has its own body limit.
    settings = make_settings(tmp_path, max_manifest_bytes=150_000)
    groups = [
        {"group_id": f"G{g}", "members": [member(f"M{g}N{i}") for i in range(6)]}
        for g in range(200)
    ]
    body = manifest_body(groups=groups)
    assert settings.max_body_bytes < len(json.dumps(body)) < settings.max_manifest_bytes
    async with running(settings, embedded_redis) as (app, client):
        response = await client.post("/v1/manifests", json=body)
        assert response.status_code == 201, response.text
        huge = manifest_body(
            groups=[
                {"group_id": f"G{g}", "members": [member(f"H{g}N{i}") for i in range(20)]}
                for g in range(200)
            ]
        )
        assert len(json.dumps(huge)) > settings.max_manifest_bytes
        response = await client.post("/v1/manifests", json=huge)
        assert response.status_code == 413
        assert stored_counts(app) == (1, 1200)


async def test_count_limits_are_422(
    cruise_env: None, tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    settings = make_settings(tmp_path, max_body_bytes=2_000_000)
    async with running(settings, embedded_redis) as (_, client):
        too_many_groups = [
            {"group_id": f"G{i}", "members": [member(f"A{i}"), member(f"B{i}")]} for i in range(201)
        ]
        response = await client.post("/v1/manifests", json=manifest_body(groups=too_many_groups))
        assert response.status_code == 422
        assert "at most 200 items" in messages(response)

        big = [
            {"group_id": f"G{g}", "members": [member(f"M{g}N{i}") for i in range(26)]}
            for g in range(193)
        ]  # 5018 members
        response = await client.post("/v1/manifests", json=manifest_body(groups=big))
        assert response.status_code == 422
        assert "at most 5000 members (got 5018)" in messages(response)


async def test_identical_repost_is_a_replay(cruise_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = cruise_app
    body = manifest_body()
    first = (await client.post("/v1/manifests", json=body)).json()
    again = await client.post("/v1/manifests", json=body)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first, "status": "unchanged"}

    # The same instants written with another offset are the same manifest.
    shifted = copy.deepcopy(body)
    tokyo = timezone(timedelta(hours=9))
    for key in ("arrival", "departs_china"):
        shifted[key] = datetime.fromisoformat(body[key]).astimezone(tokyo).isoformat()
    third = await client.post("/v1/manifests", json=shifted)
    assert third.status_code == 200
    assert third.json()["version"] == 1
    assert stored_counts(app) == (1, 5)


async def test_changed_body_amends_with_a_new_version(
    cruise_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = cruise_app
    body = manifest_body()
    first = (await client.post("/v1/manifests", json=body)).json()
    amended = copy.deepcopy(body)
    amended["groups"][1]["members"].append(member("Y2000003", "FRA"))
    del amended["groups"][0]["members"][2]
    response = await client.post("/v1/manifests", json=amended)
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
    receipt = response.json()
    assert receipt["manifest_id"] == first["manifest_id"]
    assert (receipt["status"], receipt["version"], receipt["members"]) == ("amended", 2, 5)
    assert stored_counts(app) == (1, 5)

    view = (await client.get(f"/v1/manifests/{first['manifest_id']}")).json()
    assert view["version"] == 2
    numbers = [m["document_number"] for g in view["groups"] for m in g["members"]]
    assert "X1000003" not in numbers
    assert "Y2000003" in numbers

    # Re-posting the first version is another amendment (version 3), not a replay.
    response = await client.post("/v1/manifests", json=body)
    assert (response.status_code, response.json()["version"]) == (200, 3)


async def test_amendment_inside_the_lead_time_is_refused(
    cruise_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = cruise_app
    body = manifest_body()
    assert (await client.post("/v1/manifests", json=body)).status_code == 201
    service = app.state.cruise
    service.clock = lambda: datetime.now(UTC) + timedelta(days=2, hours=1)  # 23 h before arrival
    retry = await client.post("/v1/manifests", json=body)
    assert retry.status_code == 200  # a retry of the stored body is still answered
    amended = copy.deepcopy(body)
    amended["groups"][0]["members"].pop()
    response = await client.post("/v1/manifests", json=amended)
    assert response.status_code == 422
    assert response.json()["error"] == "manifest_too_late"


async def test_other_agency_same_voyage(cruise_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = cruise_app
    body = manifest_body()
    first = (await client.post("/v1/manifests", json=body)).json()

    clash = manifest_body(agency_licence=OTHER_VALID, arrival=None)
    clash["arrival"], clash["departs_china"] = body["arrival"], body["departs_china"]
    clash["groups"] = [{"group_id": "H1", "members": [member("Z1"), member("X1000001")]}]
    response = await client.post("/v1/manifests", json=clash)
    assert response.status_code == 409
    assert response.json()["error"] == "members_on_other_manifest"
    assert "X1000001" not in response.text
    assert stored_counts(app) == (1, 5)

    clash["groups"] = [{"group_id": "H1", "members": [member("Z1"), member("Z2")]}]
    response = await client.post("/v1/manifests", json=clash)
    assert response.status_code == 201
    assert response.json()["manifest_id"] != first["manifest_id"]
    assert stored_counts(app) == (2, 7)


async def test_logs_carry_ids_and_counts_not_identities(
    cruise_client: httpx.AsyncClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        receipt = (await cruise_client.post("/v1/manifests", json=manifest_body())).json()
    stored = [e for e in logs if e["event"] == "cruise.manifest_stored"]
    assert stored
    assert stored[0]["manifest_id"] == receipt["manifest_id"]
    assert stored[0]["members"] == 5
    for value in PII:
        assert value not in repr(logs)
