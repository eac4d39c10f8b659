"""Tables of the records store.

``clearances`` is the entry record: what the kiosk reported, what was decided and why. It holds
the identity page (a border record needs it) but no image or template. ``outbox`` holds every event
to publish, written in the same transaction as the record it describes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, Index, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.records.types import UTCDateTime

# SQLite only autoincrements an INTEGER PRIMARY KEY.
_BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class ClearanceRecord(Base):
    __tablename__ = "clearances"

    clearance_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    hall: Mapped[str] = mapped_column(String(16), index=True)
    lane_id: Mapped[str] = mapped_column(String(32))
    arrival_time: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    scheme: Mapped[str | None] = mapped_column(String(64))
    permitted_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The identity page as read (never logged).
    document_type: Mapped[str] = mapped_column(String(2))
    issuing_state: Mapped[str] = mapped_column(String(3))
    nationality: Mapped[str] = mapped_column(String(3))
    document_number: Mapped[str] = mapped_column(String(9))
    surname: Mapped[str] = mapped_column(String(39))
    given_names: Mapped[str] = mapped_column(String(39))
    birth_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    # The checks the decision rests on (results only, nothing biometric).
    check_digits_valid: Mapped[bool]
    chip_authenticated: Mapped[bool | None]
    face_matched: Mapped[bool]
    face_score: Mapped[float] = mapped_column(Float)
    liveness: Mapped[str] = mapped_column(String(16))
    journey_kind: Mapped[str | None] = mapped_column(String(16))
    journey_payload: Mapped[str | None] = mapped_column(String(2048))


class OutboxEntry(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    stream: Mapped[str] = mapped_column(String(128))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_outbox_pending", "published_at", "id"),)
