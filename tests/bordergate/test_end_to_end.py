"""The three parts as separate processes on a real Redis: travellers cleared, entries recorded,
waits measured."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bordergate.contracts import (
    STREAM_CLEARANCES,
    STREAM_QUEUE,
    Hall,
    WaitStats,
    decode_event,
    heartbeat_key,
    wait_stats_key,
)
from tests.auth_helpers import register_device_for
from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

TRAVELLERS = 6


@pytest.mark.slow
@pytest.mark.redis
def test_backend_monitor_and_kiosk_processes_clear_travellers(
    redis_url: str, tmp_path: Path, test_data_dir: Path
) -> None:
    port = free_port()
    db = tmp_path / "records.sqlite3"
    env = part_env(
        REDIS_URL=redis_url,
        BORDERGATE_PORT=str(port),
        BORDERGATE_DATABASE_URL=f"sqlite:///{db}",
        BORDERGATE_DATA_DIR=str(test_data_dir),
    )
    procs = []
    try:
        backend = start_part(["backend"], env, tmp_path / "backend.log")
        procs.append(backend)
        monitor = start_part(["monitor", "--consumer-name", "m1"], env, tmp_path / "monitor.log")
        procs.append(monitor)
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", backend)
        # The kiosk authenticates as a device registered for its lane (fail closed otherwise).
        env["BORDERGATE_DEVICE_TOKEN"] = register_device_for(f"sqlite:///{db}", "airport", "A1")
        kiosk = start_part(
            ["kiosk", "--lane", "A1", "--hall", "airport",
             "--backend-url", f"http://127.0.0.1:{port}",
             "--speed", "10", "--arrivals-per-min", "30",
             "--max-travellers", str(TRAVELLERS)],
            env,
            tmp_path / "kiosk.log",
        )  # fmt: skip
        procs.append(kiosk)
        out, _ = kiosk.communicate(timeout=120)
        assert kiosk.returncode == 0, (tmp_path / "kiosk.log").read_text()[-2000:]
        stats = json.loads(out.decode().strip().splitlines()[-1])
        assert stats["served"] == TRAVELLERS
        assert stats["admitted"] + stats["referred"] == TRAVELLERS
        assert stats["admitted"] >= 1, stats  # citizens whose face matched

        r = redis.Redis.from_url(redis_url, decode_responses=True)
        # Waits measured: the monitor process paired every joined with its served event.
        deadline = time.monotonic() + 20
        wait_stats = None
        while time.monotonic() < deadline:
            raw = r.get(wait_stats_key(Hall.AIRPORT))
            wait_stats = WaitStats.model_validate_json(raw) if raw else None
            if wait_stats is not None and wait_stats.samples == TRAVELLERS:
                break
            time.sleep(0.2)
        assert wait_stats is not None
        assert wait_stats.samples == TRAVELLERS
        assert wait_stats.p95_wait_s is not None
        assert wait_stats.p95_wait_s >= 0
        assert r.exists(heartbeat_key("monitor", "m1"))

        queue_events = [decode_event(f) for _, f in r.xrange(STREAM_QUEUE)]
        assert sum(e.type == "queue.joined" for e in queue_events) >= TRAVELLERS
        assert sum(e.type == "queue.served" for e in queue_events) == TRAVELLERS

        # Entries recorded durably, and each published once on the clearance stream.
        published = [decode_event(f) for _, f in r.xrange(STREAM_CLEARANCES)]
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT clearance_id, outcome FROM clearances")).all()
        engine.dispose()
        assert len(rows) >= stats["admitted"]
        assert sum(1 for _, outcome in rows if outcome == "admit") == stats["admitted"]
        assert sorted(uuid.UUID(str(cid)) for cid, _ in rows) == sorted(
            uuid.UUID(e.clearance_id) for e in published if e.type == "clearance.outcome"
        )
        r.close()
    finally:
        for p in procs:
            stop_part(p)
