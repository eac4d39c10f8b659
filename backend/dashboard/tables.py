"""The dashboard's tables, on the records store's ``Base``.

``dashboard_wait_samples``: one row per hall and sampling interval (``at`` is the interval's
start, so several backend workers sampling the same interval write one row). ``dashboard_alerts``:
every alert the queue monitors raised or cleared (``STREAM_ALERTS``), with who acknowledged it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.records.tables import Base
from backend.records.types import UTCDateTime

_BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class WaitSampleRow(Base):
    __tablename__ = "dashboard_wait_samples"

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    hall: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    stats_at: Mapped[datetime] = mapped_column(UTCDateTime)
    samples: Mapped[int] = mapped_column(Integer)
    p95_wait_s: Mapped[float | None] = mapped_column(Float)
    mean_wait_s: Mapped[float | None] = mapped_column(Float)
    share_within_target: Mapped[float | None] = mapped_column(Float)
    target_s: Mapped[float] = mapped_column(Float)
    waiting_now: Mapped[int] = mapped_column(Integer)
    egates_open: Mapped[int] = mapped_column(Integer)
    officer_lanes_open: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("hall", "at", name="uq_dashboard_wait_sample"),)


class AlertRow(Base):
    __tablename__ = "dashboard_alerts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_id: Mapped[str | None] = mapped_column(String(32))
    hall: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(1000))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_by_name: Mapped[str | None] = mapped_column(String(128))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_dashboard_alerts_raised", "raised_at"),)
