"""Liveness, readiness, metrics and the OpenAPI docs."""

from __future__ import annotations

from pathlib import Path

import fakeredis
import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.backend.conftest import make_settings, running
from tests.conftest import free_port


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_redis_and_records(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "records": "ok"}}


async def test_readyz_is_503_when_redis_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running(settings) as (_app, client):
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["redis"].startswith("failed")
        assert body["checks"]["records"] == "ok"
        assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_metrics_are_prometheus_text_from_a_per_app_registry(
    backend: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = backend
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "bordergate_clearance_decision_seconds",
        "bordergate_outbox_pending 0.0",
        "bordergate_outbox_published_total",
    ):
        assert name in text
    assert app.state.registry is app.state.metrics.registry
    assert app.state.registry is not REGISTRY
    assert REGISTRY.get_sample_value("bordergate_outbox_pending") is None


async def test_two_apps_in_one_process_do_not_share_metrics(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    async with (
        running(make_settings(tmp_path / "a"), embedded_redis) as (a, _),
        running(make_settings(tmp_path / "b"), embedded_redis) as (b, _),
    ):
        assert a.state.registry is not b.state.registry


async def test_openapi_docs(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/clearances"]["post"]
    assert {"200", "409", "413", "422", "503"} <= set(operation["responses"])
    assert "ClearanceRequest" in schema["components"]["schemas"]


async def test_shutdown_stops_the_replay_task_and_closes_resources(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as (app, client):
        assert (await client.get("/healthz")).status_code == 200
        tasks = list(app.state.tasks)  # the outbox replay, the lane audit, the dashboard's loops
        assert tasks
        assert not any(task.done() for task in tasks)
        store = app.state.records
    assert all(task.cancelled() for task in tasks)
    assert app.state.tasks == []
    assert store.engine.pool.checkedout() == 0
