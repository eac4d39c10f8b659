"""POST /v1/clearances on the embedded fakeredis, with the records on a tmp SQLite file and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import structlog
from fastapi import FastAPI

from backend.api.clearances import REPLAYED_HEADER
from backend.settings import BackendSettings
from bordergate.clearance_api import DECISION_BUDGET_HEADER
from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, decode_event
from bordergate.redis_conn import open_redis
from tests.backend.conftest import PII_VALUES, clearance_body, count_rows, make_settings, running

URL = "/v1/clearances"


@pytest.fixture
def settings(tmp_path: Path, records_url: str) -> BackendSettings:
    """The backend's settings on SQLite and on PostgreSQL (``records_url`` is parametrised)."""
    return make_settings(tmp_path, database_url=records_url)


async def stream_events(embedded: fakeredis.FakeServer) -> list[ClearanceOutcome]:
    client = open_redis(None, embedded)
    try:
        entries = await client.xrange(STREAM_CLEARANCES)
    finally:
        await client.aclose()
    events = []
    for _id, fields in entries:
        event = decode_event(fields)
        assert isinstance(event, ClearanceOutcome)
        events.append(event)
    return events


async def test_admits_a_citizen_and_publishes_the_outcome(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    app, client = backend
    body = clearance_body()
    response = await client.post(URL, json=body)
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["outcome"] == "admit"
    assert decision["reasons"] == []
    assert decision["scheme"] == "citizen"
    assert decision["permitted_until"] is None
    assert decision["request_id"] == body["request_id"]
    assert REPLAYED_HEADER.lower() not in response.headers

    events = await stream_events(embedded_redis)
    assert len(events) == 1
    event = events[0]
    assert event.clearance_id == decision["clearance_id"]
    assert event.outcome == "admit"
    assert event.hall == "airport"
    assert event.lane_id == "A-01"
    assert event.nationality == "CHN"
    assert event.scheme == "citizen"
    assert "E98765432" not in event.model_dump_json()  # no document number on the stream
    assert count_rows(app, "clearances") == 1
    assert await asyncio.to_thread(app.state.records.count_pending) == 0


@pytest.mark.parametrize(
    ("document", "face", "reasons"),
    [
        ({"check_digits_valid": False}, {}, ["document-invalid"]),
        ({"chip_authenticated": False}, {}, ["document-invalid"]),
        ({"expiry_date": "2025-06-30"}, {}, ["document-expired"]),
        ({}, {"matched": False, "score": 0.2}, ["face-mismatch"]),
        ({}, {"liveness": "failed"}, ["liveness-failed"]),
        (
            {"nationality": "UTO", "issuing_state": "UTO"},
            {},
            ["nationality-not-eligible", "journey-missing"],
        ),
        (
            {"check_digits_valid": False, "expiry_date": "2001-01-01"},
            {"matched": False},
            ["document-invalid", "face-mismatch", "document-expired"],
        ),
    ],
)
async def test_refers_with_every_reason(
    client: httpx.AsyncClient,
    embedded_redis: fakeredis.FakeServer,
    document: dict[str, Any],
    face: dict[str, Any],
    reasons: list[str],
) -> None:
    response = await client.post(URL, json=clearance_body(document=document, face=face))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "refer"
    assert response.json()["reasons"] == reasons
    assert response.json()["permitted_until"] is None
    [event] = await stream_events(embedded_redis)
    assert event.outcome == "refer"
    assert [str(r) for r in event.reasons] == reasons


async def test_retry_returns_the_recorded_decision_and_records_once(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    app, client = backend
    body = clearance_body()
    first = await client.post(URL, json=body)
    # The same body with keys in another order and other whitespace is the same request.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    second = await client.post(URL, content=reordered, headers={"content-type": "application/json"})
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers[REPLAYED_HEADER] == "true"
    assert count_rows(app, "clearances") == 1
    assert count_rows(app, "outbox") == 1
    assert len(await stream_events(embedded_redis)) == 1
    metrics = (await client.get("/metrics")).text
    assert 'bordergate_clearance_decisions_total{hall="airport",outcome="admit"} 1.0' in metrics
    assert "bordergate_clearance_retries_total 1.0" in metrics


async def test_a_decision_past_the_kiosks_budget_is_rolled_back(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    """The kiosk has referred by then: no record may say otherwise."""
    app, client = backend
    body = clearance_body()
    # 50 ms left, less the 100 ms kept for the answer's trip: late before it starts.
    late = await client.post(URL, json=body, headers={DECISION_BUDGET_HEADER: "50"})
    assert late.status_code == 503
    assert late.json()["error"] == "decision_late"
    assert count_rows(app, "clearances") == count_rows(app, "outbox") == 0
    assert count_rows(app, "referrals") == 0
    assert count_rows(app, "audit_log WHERE kind = 'clearance'") == 0
    assert await stream_events(embedded_redis) == []
    # The same request with time to spare is decided and recorded once.
    again = await client.post(URL, json=body, headers={DECISION_BUDGET_HEADER: "2000"})
    assert again.status_code == 200, again.text
    assert count_rows(app, "clearances") == 1


@pytest.mark.parametrize("budget", ["0", "-5", "soon", "60001"])
async def test_a_malformed_budget_is_a_422_and_records_nothing(
    backend: tuple[FastAPI, httpx.AsyncClient], budget: str
) -> None:
    app, client = backend
    response = await client.post(
        URL, json=clearance_body(), headers={DECISION_BUDGET_HEADER: budget}
    )
    assert response.status_code == 422
    assert count_rows(app, "clearances") == 0


async def test_concurrent_retries_record_once(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    app, client = backend
    body = clearance_body()
    responses = await asyncio.gather(*(client.post(URL, json=body) for _ in range(5)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["clearance_id"] for r in responses}) == 1
    assert count_rows(app, "clearances") == 1
    assert len(await stream_events(embedded_redis)) == 1


async def test_same_request_id_with_another_body_is_a_conflict(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    app, client = backend
    body = clearance_body()
    assert (await client.post(URL, json=body)).status_code == 200
    changed = {**body, "lane_id": "A-02"}
    response = await client.post(URL, json=changed)
    assert response.status_code == 409
    assert response.json()["error"] == "request_id_conflict"
    assert body["request_id"] in response.json()["message"]
    assert count_rows(app, "clearances") == 1
    assert len(await stream_events(embedded_redis)) == 1


async def test_body_over_the_declared_limit_is_refused_before_parsing(
    backend: tuple[FastAPI, httpx.AsyncClient], embedded_redis: fakeredis.FakeServer
) -> None:
    app, client = backend
    limit = app.state.settings.max_body_bytes
    body = clearance_body(journey=[{"kind": "boarding_pass", "payload": "x" * 100}])
    padded = json.dumps(body) + " " * limit  # valid JSON, just too big
    response = await client.post(URL, content=padded, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert count_rows(app, "clearances") == 0
    assert await stream_events(embedded_redis) == []


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_streamed_body_over_the_limit_is_counted_and_refused(
    backend: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = backend
    data = (json.dumps(clearance_body()) + " " * app.state.settings.max_body_bytes).encode()
    request = client.build_request(
        "POST", URL, content=_chunks(data), headers={"content-type": "application/json"}
    )
    assert "content-length" not in request.headers  # chunked: only counting can catch it
    response = await client.send(request)
    assert response.status_code == 413
    assert count_rows(app, "clearances") == 0


async def test_streamed_body_within_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    data = json.dumps(clearance_body()).encode()
    request = client.build_request(
        "POST", URL, content=_chunks(data, 100), headers={"content-type": "application/json"}
    )
    response = await client.send(request)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "admit"


async def test_malformed_json_is_a_clear_422(backend: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = backend
    response = await client.post(
        URL, content=b'{"request_id": "abc", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "malformed_json"
    assert "malformed JSON" in response.json()["detail"][0]["msg"]
    assert count_rows(app, "clearances") == 0


async def test_schema_errors_are_listed_without_echoing_values(
    backend: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = backend
    body = clearance_body(document={"document_number": "secret-no!"}, hall="harbour")
    del body["face"]
    response = await client.post(URL, json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_request"
    locs = {".".join(d["loc"]) for d in payload["detail"]}
    assert {"body.face", "body.hall", "body.document.document_number"} <= locs
    assert "secret-no!" not in response.text
    assert "ZHANGSECRET" not in response.text
    assert count_rows(app, "clearances") == 0


async def test_decision_log_line_names_the_decision_but_no_personal_data(
    client: httpx.AsyncClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        body = clearance_body(face={"matched": False})
        response = await client.post(URL, json=body)
        await client.post(URL, json=body)  # the retry logs too
        await client.post(URL, json={**body, "document": {"document_number": "E98765432"}})
    assert response.status_code == 200
    [decided] = [e for e in logs if e["event"] == "clearance.decided"]
    assert decided["clearance_id"] == response.json()["clearance_id"]
    assert decided["hall"] == "airport"
    assert decided["lane_id"] == "A-01"
    assert decided["outcome"] == "refer"
    assert decided["reasons"] == ["face-mismatch"]
    assert any(e["event"] == "clearance.retry_answered" for e in logs)
    dumped = json.dumps(logs, default=str)
    for value in PII_VALUES:
        assert value not in dumped
    assert "0.93" not in dumped  # no face score either


async def test_records_store_down_is_a_503_then_recovers(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    blocker = tmp_path / "records"
    blocker.write_text("a file where the records folder should be")
    settings = make_settings(tmp_path)  # database under tmp_path/records/
    async with running(settings, embedded_redis) as (_app, client):
        response = await client.post(URL, json=clearance_body())
        assert response.status_code == 503
        assert response.json()["error"] == "records_unavailable"
        assert "Traceback" not in response.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] == "ok"
        assert ready.json()["checks"]["records"].startswith("failed")
        assert await stream_events(embedded_redis) == []  # nothing published unrecorded

        blocker.unlink()
        blocker.mkdir()  # the store comes back: tables are created on first use
        response = await client.post(URL, json=clearance_body())
        assert response.status_code == 200, response.text
        assert (await client.get("/readyz")).status_code == 200
        assert len(await stream_events(embedded_redis)) == 1


async def test_records_survive_a_restart(
    settings: BackendSettings, embedded_redis: fakeredis.FakeServer
) -> None:
    body = clearance_body(document={"nationality": "UTO"})
    async with running(settings, embedded_redis) as (_app, client):
        first = await client.post(URL, json=body)
        assert first.status_code == 200
    async with running(settings, embedded_redis) as (app, client):
        again = await client.post(URL, json=body)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers[REPLAYED_HEADER] == "true"
        assert count_rows(app, "clearances") == 1
        stored = await asyncio.to_thread(
            app.state.records.find_clearance, uuid.UUID(body["request_id"])
        )
        assert stored is not None
        assert str(stored.clearance_id) == first.json()["clearance_id"]
    assert len(await stream_events(embedded_redis)) == 1
