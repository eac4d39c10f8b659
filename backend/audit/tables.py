"""The audit log and its head, on the records store's ``Base``.

``audit_head`` is one row holding the last sequence number and hash: updating it first serialises
appenders (a row lock on PostgreSQL, the write lock on SQLite) and lets verification notice
entries cut off the end of the chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.records.tables import Base
from backend.records.types import UTCDateTime

_BigInt = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(_BigInt, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where the entry came from when it must be appended once only (a Redis stream id); not
    # hashed: it only deduplicates, the same id is in ``detail``.
    source_id: Mapped[str | None] = mapped_column(String(128), unique=True)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(_BigInt)
    hash: Mapped[str] = mapped_column(String(64))
