"""The records store: a synchronous SQLAlchemy engine behind a small, typed API.

Every method is blocking; async callers run them in a worker thread (``anyio.to_thread``).
Any database failure surfaces as :class:`RecordsUnavailableError`, so callers answer 503 and never
leak a traceback. Tables are created at start; if the database is down then, they are created on
first use once it is back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

import backend.audit.tables  # registers audit_log on Base for ensure_schema
import backend.auth.tables  # registers users and devices likewise
import backend.referrals.tables  # noqa: F401  (registers referrals likewise)
from backend.records.tables import Base, ClearanceRecord, OutboxEntry
from bordergate.clearance_api import ClearanceRequest, JourneyEvidence
from bordergate.contracts import Outcome, ReasonCode

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class RecordsUnavailableError(Exception):
    """The records store could not be reached or failed; nothing was recorded."""


class DecisionLateError(Exception):
    """The decision was ready only after its deadline (the kiosk has referred by then): it was
    rolled back, so no record says admit for a traveller the kiosk sent to an officer."""


@dataclass(frozen=True, slots=True)
class StoredClearance:
    """A recorded decision (enough to answer a retry; no identity data)."""

    clearance_id: uuid.UUID
    request_id: uuid.UUID
    request_hash: str
    hall: str
    lane_id: str
    outcome: Outcome
    reasons: list[ReasonCode]
    scheme: str | None
    permitted_until: datetime | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class NewClearance:
    """What the clearance use case asks the store to record."""

    clearance_id: uuid.UUID
    request: ClearanceRequest
    request_hash: str
    outcome: Outcome
    reasons: list[ReasonCode]
    scheme: str | None
    permitted_until: datetime | None
    decided_at: datetime
    explanation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewEvent:
    event_id: str
    stream: str
    fields: dict[str, str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecordResult:
    clearance: StoredClearance
    created: bool
    """False when the request_id was already recorded (a retry, possibly a concurrent one)."""
    outbox_id: int | None


@dataclass(frozen=True, slots=True)
class PendingEvent:
    id: int
    event_id: str
    stream: str
    fields: dict[str, str]


def _guarded(method: Callable[P, T]) -> Callable[P, T]:
    """Turn any database failure into RecordsUnavailableError (logged without parameters)."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except RecordsUnavailableError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            # hide_parameters keeps values out of the message; log only the class and operation.
            log.warning("records.unavailable", operation=method.__name__, error=type(exc).__name__)
            raise RecordsUnavailableError(f"records store failed in {method.__name__}") from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


guarded = _guarded
"""Public name of the guard, for store methods kept in other packages' modules."""


def _prepare_sqlite_path(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # surfaced later as RecordsUnavailableError when the file cannot open
        log.warning("records.folder_not_created", error=type(exc).__name__)


def _set_wal(cursor: Any, timeout_s: float) -> None:
    """``PRAGMA journal_mode=WAL``, waiting out another connection's lock.

    Switching a new database to WAL needs it unlocked, and SQLite answers "database is locked"
    at once rather than through the busy handler: workers starting together on an empty file
    (one creating the tables) must retry."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def build_engine(database_url: str, *, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """An engine for ``database_url``: SQLite (WAL, busy timeout) or PostgreSQL (pre-ping)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_path(url)
        in_memory = not url.database or url.database == ":memory:"
        kwargs: dict[str, Any] = {
            "connect_args": {
                "timeout": sqlite_busy_timeout_ms / 1000,
                **({"check_same_thread": False} if in_memory else {}),
            },
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool  # one shared connection, or each sees its own DB
        engine = create_engine(url, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            try:
                if not in_memory:
                    _set_wal(cursor, sqlite_busy_timeout_ms / 1000)
                cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 5
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, connect_args=connect_args)


def _stored(row: ClearanceRecord) -> StoredClearance:
    return StoredClearance(
        clearance_id=row.clearance_id,
        request_id=row.request_id,
        request_hash=row.request_hash,
        hall=row.hall,
        lane_id=row.lane_id,
        outcome=Outcome(row.outcome),
        reasons=[ReasonCode(r) for r in row.reasons],
        scheme=row.scheme,
        permitted_until=row.permitted_until,
        decided_at=row.decided_at,
    )


class SchemaMismatchError(RuntimeError):
    """The database holds tables of an older layout; they need migrating, not guessing."""


def _check_columns(engine: Engine) -> None:
    """create_all adds missing tables but never columns: refuse a stale layout loudly."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = sorted(c.name for c in table.columns if c.name not in present)
        if missing:
            raise SchemaMismatchError(
                f"records store table {table.name!r} lacks columns {missing}: it was created by "
                "an older bordergate; migrate it or point BORDERGATE_DATABASE_URL at a new one"
            )


# Any constant, the same in every process; distinct from the audit chain's key.
_PG_SCHEMA_LOCK_KEY = 0x6267_7363_6865_6D61  # "bgschema"


def _create_tables(engine: Engine) -> None:
    """create_all, serialised between processes starting on the same empty database.

    create_all checks then creates, table by table: two workers starting together both see a
    table missing and the second CREATE fails. One transaction holding a database-wide lock
    (an advisory lock on PostgreSQL, the write lock on SQLite) makes the second wait, then see
    the tables and create nothing.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK_KEY)))
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        Base.metadata.create_all(conn)
        conn.commit()


class RecordsStore:
    """Entry records and the outbox, in one database."""

    def __init__(self, database_url: str, *, sqlite_busy_timeout_ms: int = 5000) -> None:
        self.engine = build_engine(database_url, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @property
    def backend_name(self) -> str:
        return self.engine.dialect.name

    @_guarded
    def ensure_schema(self) -> None:
        """Create the tables if they do not exist (idempotent, cheap once done)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                _create_tables(self.engine)
                _check_columns(self.engine)
                self._schema_ready = True

    def _session(self) -> Session:
        self.ensure_schema()
        return self._sessions()

    def session(self) -> Session:
        """A new session (schema ensured) for the store modules of other packages (cruise,
        registries); wrap their methods in :func:`guarded`."""
        return self._session()

    @_guarded
    def ping(self) -> None:
        """A trivial query against the records tables."""
        with self._session() as session:
            session.execute(text("SELECT 1")).scalar_one()
            session.execute(select(OutboxEntry.id).limit(1)).all()

    @_guarded
    def find_clearance(self, request_id: uuid.UUID) -> StoredClearance | None:
        with self._session() as session:
            row = session.execute(
                select(ClearanceRecord).where(ClearanceRecord.request_id == request_id)
            ).scalar_one_or_none()
            return None if row is None else _stored(row)

    @_guarded
    def find_journey(self, request_id: uuid.UUID) -> list[JourneyEvidence] | None:
        """The journey evidence recorded with a clearance; None if no such clearance."""
        with self._session() as session:
            items = session.execute(
                select(ClearanceRecord.journey).where(ClearanceRecord.request_id == request_id)
            ).scalar_one_or_none()
            if items is None:
                return None
            return [JourneyEvidence.model_validate(item) for item in items]

    @_guarded
    def record_clearance(
        self,
        clearance: NewClearance,
        outbox: NewEvent,
        *,
        also: Sequence[Base] = (),
        deadline: float | None = None,
    ) -> RecordResult:
        """Write the clearance and its event in one transaction, with the rows in ``also``
        (the referral of a referred clearance).

        ``deadline`` (``time.monotonic()``) is checked just before commit: past it, the
        transaction is rolled back and :class:`DecisionLateError` raised. A database that hangs
        and then resumes must not commit decisions the kiosk no longer waits for.

        If the request_id is already recorded (a concurrent retry won the race), nothing is
        written and the recorded clearance is returned with ``created=False``.
        """
        req = clearance.request
        doc = req.document
        row = ClearanceRecord(
            clearance_id=clearance.clearance_id,
            request_id=req.request_id,
            request_hash=clearance.request_hash,
            hall=str(req.hall),
            lane_id=req.lane_id,
            arrival_time=req.arrival_time,
            outcome=str(clearance.outcome),
            reasons=[str(r) for r in clearance.reasons],
            scheme=clearance.scheme,
            permitted_until=clearance.permitted_until,
            decided_at=clearance.decided_at,
            document_type=doc.document_type,
            issuing_state=doc.issuing_state,
            nationality=doc.nationality,
            document_number=doc.document_number,
            surname=doc.surname,
            given_names=doc.given_names,
            birth_date=doc.birth_date,
            expiry_date=doc.expiry_date,
            sex=doc.sex,
            check_digits_valid=doc.check_digits_valid,
            chip_authenticated=doc.chip_authenticated,
            face_matched=req.face.matched,
            face_score=req.face.score,
            liveness=req.face.liveness,
            journey=[item.model_dump(mode="json") for item in req.journey],
            explanation=clearance.explanation,
        )
        entry = OutboxEntry(
            event_id=outbox.event_id,
            stream=outbox.stream,
            fields=dict(outbox.fields),
            created_at=outbox.created_at,
            published_at=None,
            attempts=0,
        )
        try:
            with self._session() as session, session.begin():
                session.add(row)
                session.flush()  # the clearance first: a duplicate request_id fails here
                session.add(entry)
                session.add_all(also)
                session.flush()
                outbox_id = entry.id
                # The outcome joins the audit chain in the same transaction as the record.
                from backend.audit.chain import append_audit  # the chain imports this module

                append_audit(
                    session,
                    kind="clearance",
                    actor=f"lane:{req.hall}/{req.lane_id}",
                    subject=str(clearance.clearance_id),
                    detail={
                        "request_id": str(req.request_id),
                        "hall": str(req.hall),
                        "lane_id": req.lane_id,
                        "outcome": str(clearance.outcome),
                        "reasons": [str(r) for r in clearance.reasons],
                        "scheme": clearance.scheme,
                        "permitted_until": clearance.permitted_until,
                    },
                    at=clearance.decided_at,
                )
                stored = _stored(row)
                session.flush()  # the audit entry too: every write is done before the check
                if deadline is not None and time.monotonic() > deadline:
                    raise DecisionLateError(str(req.request_id))  # rolls the transaction back
        except IntegrityError:
            existing = self.find_clearance(req.request_id)
            if existing is None:
                raise
            return RecordResult(clearance=existing, created=False, outbox_id=None)
        return RecordResult(clearance=stored, created=True, outbox_id=outbox_id)

    @_guarded
    def pending_events(
        self, limit: int, created_before: datetime | None = None
    ) -> list[PendingEvent]:
        """Unpublished outbox rows, oldest first."""
        query = select(OutboxEntry).where(OutboxEntry.published_at.is_(None))
        if created_before is not None:
            query = query.where(OutboxEntry.created_at <= created_before)
        query = query.order_by(OutboxEntry.id).limit(limit)
        with self._session() as session:
            return [
                PendingEvent(
                    id=e.id,
                    event_id=e.event_id,
                    stream=e.stream,
                    fields={str(k): str(v) for k, v in e.fields.items()},
                )
                for e in session.execute(query).scalars()
            ]

    @_guarded
    def mark_published(self, ids: Sequence[int], at: datetime) -> None:
        if not ids:
            return
        with self._session() as session, session.begin():
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id.in_(list(ids)), OutboxEntry.published_at.is_(None))
                .values(published_at=at, attempts=OutboxEntry.attempts + 1)
            )

    @_guarded
    def note_failed_attempt(self, outbox_id: int) -> None:
        with self._session() as session, session.begin():
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == outbox_id)
                .values(attempts=OutboxEntry.attempts + 1)
            )

    @_guarded
    def count_pending(self) -> int:
        with self._session() as session:
            count: int = session.execute(
                select(func.count())
                .select_from(OutboxEntry)
                .where(OutboxEntry.published_at.is_(None))
            ).scalar_one()
            return count

    def dispose(self) -> None:
        self.engine.dispose()
