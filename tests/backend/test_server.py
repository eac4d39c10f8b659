"""build_server: the backend served by uvicorn in the caller's loop, stopped by should_exit."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import httpx
import pytest
import structlog

from backend.server import build_server, uvicorn_log_config
from tests.auth_helpers import register_device_for
from tests.backend.conftest import clearance_body, make_settings
from tests.conftest import free_port


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


@pytest.mark.usefixtures("restore_logging")
async def test_serves_over_http_and_stops(
    tmp_path: Path, embedded_redis: fakeredis.FakeServer
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, port=port)
    server = build_server(settings, embedded_redis=embedded_redis)
    assert server.config.host == "127.0.0.1"
    assert server.config.port == port
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert (await client.get("/readyz")).status_code == 200
            token = register_device_for(settings.database_url, "airport", "A-01")
            response = await client.post(
                "/v1/clearances",
                json=clearance_body(),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200
            assert response.json()["outcome"] == "admit"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert task.done()
    assert task.exception() is None


def test_uvicorn_records_render_as_json(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    logging.config.dictConfig(uvicorn_log_config("INFO", json=True))
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "Started server process [42]"
    assert record["level"] == "info"
    assert record["logger"] == "uvicorn.error"
