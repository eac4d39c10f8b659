"""Append to and verify the audit hash chain.

Each entry's ``hash`` is sha256 over a canonical JSON of (seq, at, kind, actor, subject, detail,
prev_hash); ``prev_hash`` is the previous entry's hash (64 zeros for the first). Appends are
serialised: on PostgreSQL by ``pg_advisory_xact_lock`` and on both by updating the single
``audit_head`` row first, which also records the tail so a cut-off end is noticed.

``detail`` is for auditors: outcomes, reason codes, ids. Never biometrics, never a whole identity
page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit.tables import AuditEntry, AuditHead
from backend.records.store import guarded

if TYPE_CHECKING:
    from backend.records.store import RecordsStore

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
# Any constant works; it only has to be the same for every backend process.
_PG_LOCK_KEY = 0x6267_6175_6469_74  # "bgaudit"
_VERIFY_BATCH = 1000


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalised(detail: Mapping[str, object]) -> dict[str, Any]:
    """The detail as it reads back from a JSON column (so the hash survives the round trip)."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(detail), default=str))
    return loaded


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    subject: str,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> str:
    payload = {
        "seq": seq,
        "at": _at_text(at),
        "kind": kind,
        "actor": actor,
        "subject": subject,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def row_hash(row: AuditEntry) -> str:
    """The hash a stored entry should carry, from its own fields."""
    return entry_hash(
        seq=row.seq,
        at=row.at,
        kind=row.kind,
        actor=row.actor,
        subject=row.subject,
        detail=row.detail,
        prev_hash=row.prev_hash,
    )


def _lock_head(session: Session) -> AuditHead:
    """Take the append lock and return the head row (created on first use)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    # A write first: on SQLite this takes the database write lock before the tail is read.
    result = session.execute(
        update(AuditHead).where(AuditHead.id == _HEAD_ID).values(seq=AuditHead.seq)
    )
    if getattr(result, "rowcount", 0) == 0:
        try:
            with session.begin_nested():
                session.add(AuditHead(id=_HEAD_ID, seq=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass  # a concurrent first append created it
    return session.execute(
        select(AuditHead)
        .where(AuditHead.id == _HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def append_audit(
    session: Session,
    *,
    kind: str,
    actor: str,
    subject: str,
    detail: Mapping[str, object],
    source_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Append one entry inside the caller's transaction (committed with it).

    With ``source_id`` the entry is appended once only: False if that id is already in the log.
    """
    head = _lock_head(session)
    if source_id is not None:
        seen = session.execute(
            select(AuditEntry.seq).where(AuditEntry.source_id == source_id)
        ).first()
        if seen is not None:
            return False
    when = (at or datetime.now(UTC)).astimezone(UTC)
    clean = _normalised(detail)
    seq = head.seq + 1
    digest = entry_hash(
        seq=seq,
        at=when,
        kind=kind,
        actor=actor,
        subject=subject,
        detail=clean,
        prev_hash=head.hash,
    )
    session.add(
        AuditEntry(
            seq=seq,
            at=when,
            kind=kind,
            actor=actor,
            subject=subject,
            detail=clean,
            prev_hash=head.hash,
            hash=digest,
            source_id=source_id,
        )
    )
    head.seq = seq
    head.hash = digest
    session.flush()
    return True


@guarded
def audit_append(
    store: RecordsStore,
    *,
    kind: str,
    actor: str,
    subject: str,
    detail: Mapping[str, object],
    source_id: str | None = None,
) -> bool:
    """Append one entry in its own transaction (blocking; see :func:`audit_append_async`)."""
    with store.session() as session, session.begin():
        return append_audit(
            session, kind=kind, actor=actor, subject=subject, detail=detail, source_id=source_id
        )


async def audit_append_async(
    store: RecordsStore,
    *,
    kind: str,
    actor: str,
    subject: str,
    detail: Mapping[str, object],
    source_id: str | None = None,
) -> bool:
    """:func:`audit_append` in a worker thread, for async code."""

    def run() -> bool:
        return audit_append(
            store, kind=kind, actor=actor, subject=subject, detail=detail, source_id=source_id
        )

    return await to_thread.run_sync(run)


@dataclass(frozen=True, slots=True)
class BrokenEntry:
    """The first entry where the chain does not hold, and why."""

    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class AuditView:
    """One entry as read back (for listings and exports)."""

    seq: int
    at: datetime
    kind: str
    actor: str
    subject: str
    detail: dict[str, Any]
    hash: str


def _verify_session(session: Session) -> tuple[BrokenEntry | None, int]:
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.seq >= expected_seq)
                .order_by(AuditEntry.seq)
                .limit(_VERIFY_BATCH)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return BrokenEntry(expected_seq, f"entry {expected_seq} is missing"), checked
            if row.prev_hash != prev:
                return BrokenEntry(row.seq, "prev_hash does not match the previous entry"), checked
            if row_hash(row) != row.hash:
                return BrokenEntry(row.seq, "contents do not match the entry's hash"), checked
            prev = row.hash
            expected_seq += 1
            checked += 1
        session.expunge_all()
    head = session.get(AuditHead, _HEAD_ID)
    last = expected_seq - 1
    if head is not None and (head.seq != last or head.hash != prev):
        if head.seq > last:
            return BrokenEntry(last + 1, f"entries {last + 1}..{head.seq} are missing"), checked
        return BrokenEntry(head.seq, "the chain head does not match the last entry"), checked
    return None, checked


def verify_chain(source: Session | RecordsStore) -> BrokenEntry | None:
    """Check the whole chain; the first broken entry, or None when it is intact."""
    return verify_chain_counted(source)[0]


@guarded
def verify_chain_counted(source: Session | RecordsStore) -> tuple[BrokenEntry | None, int]:
    """:func:`verify_chain` and the number of entries found intact before any break."""
    if isinstance(source, Session):
        return _verify_session(source)
    with source.session() as session:
        return _verify_session(session)


@guarded
def recent_entries(
    store: RecordsStore, *, limit: int = 100, kind: str | None = None
) -> list[AuditView]:
    """The newest entries first (optionally of one kind)."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if kind is not None:
        query = query.where(AuditEntry.kind == kind)
    with store.session() as session:
        return [
            AuditView(
                seq=r.seq,
                at=r.at,
                kind=r.kind,
                actor=r.actor,
                subject=r.subject,
                detail=dict(r.detail),
                hash=r.hash,
            )
            for r in session.execute(query).scalars()
        ]
