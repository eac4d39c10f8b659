"""build_server: the backend served by uvicorn in the caller's loop, stopped by should_exit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
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


@pytest.mark.slow
@pytest.mark.redis
def test_several_workers_serve_one_port_and_a_killed_one_is_replaced(
    tmp_path: Path, redis_url: str
) -> None:
    from tests.processes import part_env, start_part, stop_part, wait_http_ok

    port = free_port()
    env = part_env(
        REDIS_URL=redis_url, BORDERGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'records.sqlite3'}"
    )
    proc = start_part(
        ["backend", "--port", str(port), "--workers", "2"], env, tmp_path / "backend.log"
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", proc)
        children = _children(proc.pid)
        assert len(children) >= 2, children
        os.kill(children[0], signal.SIGKILL)
        # The supervisor replaces the worker; the port answers throughout.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = _children(proc.pid)
            if children[0] not in now and len(now) >= 2:
                break
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            time.sleep(0.2)
        assert children[0] not in _children(proc.pid)
        assert len(_children(proc.pid)) >= 2
    finally:
        stop_part(proc)


def _children(pid: int) -> list[int]:
    """Worker processes of uvicorn's supervisor (multiprocessing also starts a resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(p) for p in path.read_text().split()]
    return [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def test_several_workers_need_a_shared_redis(tmp_path: Path) -> None:
    from backend.server import run

    settings = make_settings(tmp_path, port=free_port()).model_copy(update={"workers": 2})
    with pytest.raises(SystemExit, match="REDIS_URL"):
        run(settings)
