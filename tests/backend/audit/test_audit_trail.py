"""What reaches the audit trail: clearance outcomes (with their record), lane commands (once),
and ``bordergate audit verify`` naming the first broken entry; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import delete, update
from typer.testing import CliRunner

from backend.audit.chain import audit_append, recent_entries, verify_chain
from backend.audit.lane_changes import GROUP_AUDIT, consume_once, ensure_group
from backend.audit.tables import AuditEntry
from backend.records.store import RecordsStore
from backend.settings import BackendSettings
from bordergate.cli import app as cli
from bordergate.contracts import STREAM_LANE_COMMANDS, Hall, LaneCommand, encode_event
from tests.backend.conftest import PII_VALUES, clearance_body, make_settings


@pytest.fixture
def settings(tmp_path: Path, records_url: str) -> BackendSettings:
    """The backend's settings on SQLite and on PostgreSQL (``records_url`` is parametrised)."""
    return make_settings(tmp_path, database_url=records_url)


async def test_every_clearance_outcome_is_audited_once_without_identity_data(
    backend: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = backend
    admit = clearance_body()
    refer = clearance_body(face={"matched": False, "score": 0.1})
    for body in (admit, refer, admit):  # the third is a retry: recorded once
        response = await client.post("/v1/clearances", json=body)
        assert response.status_code == 200, response.text
    store: RecordsStore = app.state.records
    entries = [e for e in recent_entries(store, limit=50) if e.kind == "clearance"]
    assert sorted(e.detail["outcome"] for e in entries) == ["admit", "refer"]
    by_request = {e.detail["request_id"]: e for e in entries}
    assert by_request[refer["request_id"]].detail["reasons"] == ["face-mismatch"]
    assert by_request[admit["request_id"]].actor == "lane:airport/A-01"
    dumped = json.dumps([e.detail for e in entries]) + "".join(e.subject for e in entries)
    for value in PII_VALUES:
        assert value not in dumped
    assert "score" not in dumped
    assert verify_chain(store) is None


def _command(lane: str, action: str = "open") -> dict[Any, Any]:
    return encode_event(
        LaneCommand(hall=Hall.AIRPORT, lane_id=lane, action=action, reason="p95 forecast 27 min")
    )


async def test_lane_commands_are_audited_exactly_once(fake_redis: Redis, records_url: str) -> None:
    store = RecordsStore(records_url)
    try:
        await fake_redis.xadd(STREAM_LANE_COMMANDS, _command("D7"))
        await ensure_group(fake_redis)
        await fake_redis.xadd(STREAM_LANE_COMMANDS, _command("D8", "close"))
        await fake_redis.xadd(STREAM_LANE_COMMANDS, {"type": "junk", "data": "{"})
        assert await consume_once(fake_redis, store, "c1", block_ms=10) == 3
        # A redelivery (the group reset, as after a crash before XACK) appends nothing.
        await fake_redis.xgroup_setid(STREAM_LANE_COMMANDS, GROUP_AUDIT, "0")
        assert await consume_once(fake_redis, store, "c2", block_ms=10) == 3
        entries = [e for e in recent_entries(store) if e.kind == "lane-change"]
        assert sorted((e.subject, e.detail["action"]) for e in entries) == [
            ("airport/D7", "open"),
            ("airport/D8", "close"),
        ]
        assert all(e.actor == "queue-monitor" for e in entries)
        assert entries[0].detail["reason"] == "p95 forecast 27 min"
        assert verify_chain(store) is None
    finally:
        store.dispose()


async def test_the_backend_audits_lane_commands_as_they_come(
    backend: tuple[FastAPI, httpx.AsyncClient], fake_redis: Redis
) -> None:
    app, _ = backend
    await fake_redis.xadd(STREAM_LANE_COMMANDS, _command("D3"))
    store: RecordsStore = app.state.records
    async with asyncio.timeout(10):
        while not [e for e in recent_entries(store) if e.kind == "lane-change"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    [entry] = [e for e in recent_entries(store) if e.kind == "lane-change"]
    assert entry.subject == "airport/D3"


@pytest.fixture
def database(records_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordsStore]:
    monkeypatch.setenv("BORDERGATE_DATABASE_URL", records_url)
    store = RecordsStore(records_url)
    for i in range(5):
        audit_append(store, kind="test", actor="t", subject=str(i), detail={"i": i})
    yield store
    store.dispose()


def test_cli_verify_passes_an_intact_chain(database: RecordsStore) -> None:
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "intact": True,
        "entries": 5,
        "first_broken_seq": None,
        "reason": None,
    }
    plain = CliRunner().invoke(cli, ["audit", "verify"])
    assert plain.exit_code == 0
    assert "intact: 5 entries" in plain.output


def test_cli_verify_names_an_edited_entry(database: RecordsStore) -> None:
    with database.session() as session, session.begin():
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(detail={"i": 42}))
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output
    as_json = json.loads(CliRunner().invoke(cli, ["audit", "verify", "--json"]).output)
    assert as_json["intact"] is False
    assert as_json["first_broken_seq"] == 3
    assert as_json["entries"] == 2


def test_cli_verify_names_a_deleted_entry(database: RecordsStore) -> None:
    with database.session() as session, session.begin():
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["first_broken_seq"] == 2
