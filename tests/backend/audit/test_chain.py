"""The audit hash chain on SQLite and PostgreSQL: appends link up, tampering and deletions are
found, appends from several threads and processes serialise into one chain."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select, text, update

from backend.audit.chain import (
    _PG_LOCK_KEY,
    GENESIS_HASH,
    audit_append,
    entry_hash,
    recent_entries,
    row_hash,
    verify_chain,
    verify_chain_counted,
)
from backend.audit.tables import AuditEntry
from backend.records.store import RecordsStore
from tests.conftest import REPO_ROOT


@pytest.fixture
def store(records_url: str) -> Iterator[RecordsStore]:
    """The store on SQLite and on PostgreSQL (``records_url`` is parametrised over both)."""
    s = RecordsStore(records_url)
    s.ensure_schema()
    yield s
    s.dispose()


def _append(store: RecordsStore, n: int, kind: str = "test") -> None:
    for i in range(n):
        audit_append(store, kind=kind, actor="tester", subject=f"s{i}", detail={"i": i, "f": 0.5})


def test_an_empty_log_is_intact(store: RecordsStore) -> None:
    assert verify_chain(store) is None
    assert verify_chain_counted(store) == (None, 0)


def test_appends_are_linked_by_hash(store: RecordsStore) -> None:
    _append(store, 5)
    assert verify_chain_counted(store) == (None, 5)
    entries = list(reversed(recent_entries(store, limit=10)))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    with store.session() as session:
        rows = session.query(AuditEntry).order_by(AuditEntry.seq).all()
        assert rows[0].prev_hash == GENESIS_HASH
        for prev, row in itertools.pairwise(rows):
            assert row.prev_hash == prev.hash
        first = rows[0]
        assert first.hash == entry_hash(
            seq=1,
            at=first.at,
            kind="test",
            actor="tester",
            subject="s0",
            detail={"i": 0, "f": 0.5},
            prev_hash=GENESIS_HASH,
        )


def test_edited_detail_names_that_entry(store: RecordsStore) -> None:
    _append(store, 6)
    with store.session() as session, session.begin():
        session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(detail={"i": 99}))
    broken = verify_chain(store)
    assert broken is not None
    assert broken.seq == 4
    assert "hash" in broken.reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(store: RecordsStore) -> None:
    _append(store, 5)
    with store.session() as session, session.begin():
        row = session.get(AuditEntry, 2)
        assert row is not None
        row.actor = "someone-else"
        row.hash = row_hash(row)
    broken = verify_chain(store)
    assert broken is not None
    assert broken.seq == 3
    assert "prev_hash" in broken.reason


def test_a_deleted_entry_is_named(store: RecordsStore) -> None:
    _append(store, 6)
    with store.session() as session, session.begin():
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    broken = verify_chain(store)
    assert broken is not None
    assert broken.seq == 3
    assert "missing" in broken.reason


def test_entries_cut_off_the_end_are_noticed(store: RecordsStore) -> None:
    _append(store, 6)
    with store.session() as session, session.begin():
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 5))
    broken = verify_chain(store)
    assert broken is not None
    assert broken.seq == 5


def test_source_id_appends_once(store: RecordsStore) -> None:
    def append(source_id: str) -> bool:
        return audit_append(
            store,
            kind="lane-change",
            actor="m",
            subject="airport/A1",
            detail={},
            source_id=source_id,
        )

    assert append("stream:1-0") is True
    assert append("stream:1-0") is False
    assert append("stream:2-0") is True
    assert verify_chain_counted(store) == (None, 2)


def test_detail_is_stored_as_json_and_still_verifies(store: RecordsStore) -> None:
    from datetime import UTC, datetime

    audit_append(
        store,
        kind="x",
        actor="a",
        subject="b",
        detail={
            "when": datetime(2025, 1, 2, tzinfo=UTC),
            "zh": "中文",
            "nested": {"b": 1, "a": [1]},
        },
    )
    assert verify_chain(store) is None
    (entry,) = recent_entries(store)
    assert entry.detail["when"] == "2025-01-02 00:00:00+00:00"


def test_concurrent_appends_from_threads_keep_one_chain(store: RecordsStore) -> None:
    threads_n, per_thread = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                audit_append(store, kind="t", actor=f"thread-{t}", subject=str(i), detail={})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert verify_chain_counted(store) == (None, threads_n * per_thread)
    with store.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))]
    assert seqs == list(range(1, threads_n * per_thread + 1))


# Each process appends on its own engine, as backend workers do.
_APPENDER = """
import sys
from backend.audit.chain import audit_append
from backend.records.store import RecordsStore
store = RecordsStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    audit_append(store, kind="p", actor="process-" + sys.argv[2], subject=str(i), detail={"i": i})
store.dispose()
"""


@pytest.mark.slow
def test_concurrent_appends_from_processes_keep_one_chain(
    store: RecordsStore, records_url: str
) -> None:
    processes_n, per_process = 4, 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, records_url, str(p), str(per_process)],
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
        )
        for p in range(processes_n)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    total = processes_n * per_process
    assert verify_chain_counted(store) == (None, total)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, count(*) FROM audit_log GROUP BY actor")).all()
    assert dict(rows) == {f"process-{p}": per_process for p in range(processes_n)}


@pytest.mark.postgres
@pytest.mark.slow
def test_on_postgresql_appends_wait_for_the_advisory_lock(postgres_url: str) -> None:
    store = RecordsStore(postgres_url)
    try:
        _append(store, 1)
        done = threading.Event()
        with store.engine.connect() as holder:
            # Another backend process in the middle of an append holds this lock.
            holder.execute(select(func.pg_advisory_lock(_PG_LOCK_KEY)))

            def append_one() -> None:
                _append(store, 1)
                done.set()

            appender = threading.Thread(target=append_one)
            appender.start()
            assert not done.wait(0.5), "the append did not wait for the advisory lock"
            holder.execute(select(func.pg_advisory_unlock(_PG_LOCK_KEY)))
            holder.commit()
        assert done.wait(10)
        appender.join()
        assert verify_chain_counted(store) == (None, 2)
    finally:
        store.dispose()
