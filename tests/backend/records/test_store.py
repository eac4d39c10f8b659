"""The records store on SQLite and PostgreSQL: schema, UTC round trip, idempotent insert, outbox,
concurrent writers, failures."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text

from backend.audit.chain import verify_chain
from backend.records.store import (
    NewClearance,
    NewEvent,
    RecordsStore,
    RecordsUnavailableError,
)
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode
from tests.backend.conftest import clearance_body
from tests.postgres import PostgresServer

T = TypeVar("T")


def new_clearance(request: ClearanceRequest, at: datetime) -> NewClearance:
    return NewClearance(
        clearance_id=uuid.uuid4(),
        request=request,
        request_hash="h" * 64,
        outcome=Outcome.REFER,
        reasons=[ReasonCode.FACE_MISMATCH, ReasonCode.LIVENESS_FAILED],
        scheme=None,
        permitted_until=at + timedelta(days=3),
        decided_at=at,
    )


def new_event(at: datetime) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4().hex, stream="s", fields={"a": "1"}, created_at=at)


@pytest.fixture
def store(records_url: str) -> Iterator[RecordsStore]:
    """The store on SQLite and on PostgreSQL (``records_url`` is parametrised over both)."""
    s = RecordsStore(records_url)
    s.ensure_schema()
    yield s
    s.dispose()


def test_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    store = RecordsStore(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'records.sqlite3'}")
    store.ensure_schema()
    assert (tmp_path / "nested" / "dir" / "records.sqlite3").is_file()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 5000
    store.ping()
    store.dispose()


def test_uses_the_database_it_is_given(store: RecordsStore, records_url: str) -> None:
    assert store.backend_name == records_url.split(":")[0].split("+")[0]
    store.ping()
    store.ensure_schema()  # again: idempotent


def test_round_trip_keeps_aware_utc_times_and_reasons(store: RecordsStore) -> None:
    at = datetime(2025, 7, 1, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    request = ClearanceRequest.model_validate(clearance_body())
    result = store.record_clearance(new_clearance(request, at), new_event(at))
    assert result.created
    assert result.outbox_id is not None
    found = store.find_clearance(request.request_id)
    assert found is not None
    assert found.decided_at == at
    assert found.decided_at.tzinfo is not None
    assert found.decided_at.utcoffset() == timedelta(0)
    assert found.permitted_until == at + timedelta(days=3)
    assert found.reasons == [ReasonCode.FACE_MISMATCH, ReasonCode.LIVENESS_FAILED]
    assert found.outcome is Outcome.REFER
    assert store.find_clearance(uuid.uuid4()) is None


def test_second_insert_of_a_request_id_records_nothing(store: RecordsStore) -> None:
    at = datetime.now(UTC)
    request = ClearanceRequest.model_validate(clearance_body())
    first = store.record_clearance(new_clearance(request, at), new_event(at))
    second = store.record_clearance(new_clearance(request, at), new_event(at))
    assert not second.created
    assert second.outbox_id is None
    assert second.clearance.clearance_id == first.clearance.clearance_id
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM clearances")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1


def test_outbox_pending_and_mark_published(store: RecordsStore) -> None:
    at = datetime.now(UTC)
    ids = []
    for _ in range(3):
        request = ClearanceRequest.model_validate(clearance_body())
        result = store.record_clearance(new_clearance(request, at), new_event(at))
        assert result.outbox_id is not None
        ids.append(result.outbox_id)
    assert store.count_pending() == 3
    assert [p.id for p in store.pending_events(10)] == ids
    assert [p.id for p in store.pending_events(2)] == ids[:2]
    assert store.pending_events(10, created_before=at - timedelta(seconds=1)) == []
    assert store.pending_events(10)[0].fields == {"a": "1"}
    store.mark_published(ids[:2], datetime.now(UTC))
    assert [p.id for p in store.pending_events(10)] == ids[2:]
    assert store.count_pending() == 1


def test_unusable_database_raises_records_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = RecordsStore(f"sqlite:///{blocker / 'records.sqlite3'}")
    with pytest.raises(RecordsUnavailableError):
        store.ensure_schema()
    with pytest.raises(RecordsUnavailableError):
        store.ping()
    with pytest.raises(RecordsUnavailableError):
        store.find_clearance(uuid.uuid4())
    store.dispose()


def test_in_memory_database_works_across_threads() -> None:
    store = RecordsStore("sqlite://")
    store.ensure_schema()
    errors: list[BaseException] = []

    def ping() -> None:
        try:
            store.ping()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=ping)
    t.start()
    t.join()
    assert errors == []
    store.dispose()


def test_keeps_the_journey_evidence_list(store: RecordsStore) -> None:
    at = datetime.now(UTC)
    evidence = [
        {"kind": "boarding_pass", "payload": "M1SMITH/JOHN inbound"},
        {"kind": "boarding_pass", "payload": "M1SMITH/JOHN onward"},
    ]
    request = ClearanceRequest.model_validate(clearance_body(journey=evidence))
    store.record_clearance(new_clearance(request, at), new_event(at))
    found = store.find_journey(request.request_id)
    assert found is not None
    assert [e.model_dump() for e in found] == evidence

    bare = ClearanceRequest.model_validate(clearance_body())
    store.record_clearance(new_clearance(bare, at), new_event(at))
    assert store.find_journey(bare.request_id) == []
    assert store.find_journey(uuid.uuid4()) is None


def test_a_stale_table_layout_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from backend.records.store import SchemaMismatchError

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the clearances table of an older release, fewer columns
        conn.execute(sa.text("CREATE TABLE clearances (clearance_id CHAR(32) PRIMARY KEY)"))
    engine.dispose()
    store = RecordsStore(url)
    with pytest.raises(SchemaMismatchError, match=r"clearances.*lacks columns"):
        store.ensure_schema()
    store.dispose()


def _in_threads(n: int, work: Callable[[int], T]) -> list[T]:
    """``work(i)`` for i in range(n), started together in n threads; re-raises the first error."""
    start = threading.Barrier(n)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_several_processes_creating_the_schema_at_once_all_succeed(records_url: str) -> None:
    # Each store stands for a backend worker process starting on an empty database.
    stores = [RecordsStore(records_url) for _ in range(4)]
    try:
        _in_threads(len(stores), lambda i: stores[i].ensure_schema())
        for s in stores:
            s.ping()
    finally:
        for s in stores:
            s.dispose()


def test_concurrent_retries_from_several_processes_record_once(records_url: str) -> None:
    stores = [RecordsStore(records_url) for _ in range(4)]
    try:
        stores[0].ensure_schema()
        at = datetime.now(UTC)
        request = ClearanceRequest.model_validate(clearance_body())
        results = _in_threads(
            len(stores),
            lambda i: stores[i].record_clearance(new_clearance(request, at), new_event(at)),
        )
        assert sum(r.created for r in results) == 1
        assert len({r.clearance.clearance_id for r in results}) == 1
        with stores[0].engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM clearances")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1
        assert verify_chain(stores[0]) is None
    finally:
        for s in stores:
            s.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_not_listening_raises_records_unavailable() -> None:
    from tests.conftest import free_port

    store = RecordsStore(f"postgresql+psycopg://bordergate@127.0.0.1:{free_port()}/none")
    with pytest.raises(RecordsUnavailableError):
        store.ensure_schema()
    with pytest.raises(RecordsUnavailableError):
        store.find_clearance(uuid.uuid4())
    store.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_reconnects_after_a_postgresql_restart(postgres_process: PostgresServer) -> None:
    postgres_process.start()
    store = RecordsStore(postgres_process.url(postgres_process.create_database()))
    try:
        at = datetime.now(UTC)
        first = ClearanceRequest.model_validate(clearance_body())
        store.record_clearance(new_clearance(first, at), new_event(at))
        # Restarted behind the store's back: its pooled connection is dead, and the pool checks
        # a connection before handing it out, so the very next call works.
        postgres_process.stop("immediate")
        postgres_process.start()
        assert store.find_clearance(first.request_id) is not None
        # Down: a clear failure; back: works again, with no restart of the store.
        postgres_process.stop("fast")
        with pytest.raises(RecordsUnavailableError):
            store.find_clearance(first.request_id)
        postgres_process.start()
        assert store.find_clearance(first.request_id) is not None
        second = ClearanceRequest.model_validate(clearance_body())
        assert store.record_clearance(new_clearance(second, at), new_event(at)).created
        assert store.count_pending() == 2
        assert verify_chain(store) is None
    finally:
        store.dispose()
