"""Tables of the records store.

``clearances`` is the entry record: what the kiosk reported, what was decided and why. It holds
the identity page (a border record needs it) but no image or template. ``outbox`` holds every event
to publish, written in the same transaction as the record it describes.

``cruise_manifests`` and ``cruise_manifest_members`` hold the travel agencies' name lists
(:mod:`backend.cruise`); ``registry_visas`` and ``registry_records`` the visa and records
registries (:mod:`backend.registries`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
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
    # The journey evidence as presented: [{"kind": ..., "payload": ...}, ...] (at most 4).
    journey: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Why: every policy rule tried with its result, and notes on the evidence (for officers).
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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


# --- Cruise manifests (backend.cruise) ---------------------------------------------------------


class CruiseManifestRow(Base):
    """A travel agency's name list for one ship call; (ship, voyage, agency) is unique.

    An amendment replaces the members and bumps ``version``; ``body_hash`` detects a retry.
    """

    __tablename__ = "cruise_manifests"

    manifest_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ship_code: Mapped[str] = mapped_column(String(16))
    ship_name: Mapped[str] = mapped_column(String(64))
    voyage: Mapped[str] = mapped_column(String(32))
    agency_licence: Mapped[str] = mapped_column(String(32))
    port: Mapped[str] = mapped_column(String(16))
    arrival: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    departs_china: Mapped[datetime] = mapped_column(UTCDateTime)
    body_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    group_count: Mapped[int] = mapped_column(Integer)
    member_count: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("ship_code", "voyage", "agency_licence", name="uq_cruise_manifest_key"),
    )


class CruiseManifestMember(Base):
    """One traveller of one group on a manifest (identity data: never logged)."""

    __tablename__ = "cruise_manifest_members"

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    manifest_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("cruise_manifests.manifest_id", ondelete="CASCADE")
    )
    group_id: Mapped[str] = mapped_column(String(32))
    group_size: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    document_number: Mapped[str] = mapped_column(String(9))
    nationality: Mapped[str] = mapped_column(String(3))
    surname: Mapped[str | None] = mapped_column(String(39))
    given_names: Mapped[str | None] = mapped_column(String(39))

    __table_args__ = (
        Index("ix_cruise_member_document", "document_number", "nationality"),
        Index("ix_cruise_member_manifest", "manifest_id"),
    )


# --- Registries (backend.registries) -----------------------------------------------------------


class VisaRegistryEntry(Base):
    """A Chinese visa as the issuing authority's feed reports it."""

    __tablename__ = "registry_visas"

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    document_number: Mapped[str] = mapped_column(String(9))
    nationality: Mapped[str] = mapped_column(String(3))
    visa_type: Mapped[str] = mapped_column(String(4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    entries_left: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "document_number", "nationality", "visa_type", "valid_from", name="uq_registry_visa"
        ),
        Index("ix_registry_visa_person", "document_number", "nationality"),
    )


class RecordRegistryEntry(Base):
    """A flag on a person's record (barred, visa refusal, violation) with its date and source."""

    __tablename__ = "registry_records"

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    document_number: Mapped[str] = mapped_column(String(9))
    nationality: Mapped[str] = mapped_column(String(3))
    flag: Mapped[str] = mapped_column(String(16))
    flag_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "document_number", "nationality", "flag", "flag_date", name="uq_registry_record"
        ),
        Index("ix_registry_record_person", "document_number", "nationality"),
    )
