"""The referrals table, on the records store's ``Base``.

One row per traveller sent to an officer: opened by the clearance service (in the clearance's
transaction) or by a kiosk that referred on its own; closed by the officer's decision. It holds
the identity page as read (the officer needs it) but never an image: the photos live in Redis
only while the referral is open (:mod:`backend.referrals.photos`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.records.tables import Base
from backend.records.types import UTCDateTime


class ReferralRow(Base):
    __tablename__ = "referrals"

    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # A kiosk report's idempotency key (None for the backend's own: its clearance has one; kept
    # apart so a kiosk report racing a slow clearance can never make the clearance fail).
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    clearance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    source: Mapped[str] = mapped_column(String(8))  # "backend" | "kiosk"
    hall: Mapped[str] = mapped_column(String(16))
    lane_id: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8))  # "open" | "closed"
    reasons: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(String(300), default="")
    # The identity page as read (DocumentData JSON), None when the document was not read.
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    face_matched: Mapped[bool | None]
    face_score: Mapped[float | None] = mapped_column(Float)
    liveness: Mapped[str | None] = mapped_column(String(16))
    scheme: Mapped[str | None] = mapped_column(String(64))
    # The stay the policy computed (the officer's admit is prefilled with it), if any.
    policy_permitted_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    journey: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # The journey and cruise manifest facts the backend established (JourneyFacts/CruiseFacts).
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The officer's decision.
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    permitted_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_referrals_open", "hall", "status", "opened_at"),)
