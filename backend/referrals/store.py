"""Referral records in the records store (blocking; async callers use a worker thread).

Opening: the clearance service adds a :func:`backend_referral` row to the clearance's own
transaction; a kiosk's report is inserted by :meth:`ReferralStore.open_kiosk_referral`, once per
``request_id`` (and not at all when that request's clearance already opened one).

Closing: one conditional UPDATE (only an open referral closes, so two officers deciding at once
cannot both win) and the audit entry, in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from backend.audit.chain import append_audit
from backend.policy.case import PolicyCase
from backend.policy.clock import to_cst
from backend.records.store import RecordsStore, guarded
from backend.records.tables import ClearanceRecord
from backend.referrals.models import OfficerDecision, stay_prefill
from backend.referrals.tables import ReferralRow
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import ReasonCode
from bordergate.referral_api import KioskReferral

DECISION_AUDIT_KIND = "officer-decision"


class ReferralNotFoundError(LookupError):
    def __init__(self, referral_id: uuid.UUID) -> None:
        super().__init__(f"no referral {referral_id}")
        self.referral_id = referral_id


class ReferralClosedError(Exception):
    """The referral was already decided; a decision is never overwritten."""

    def __init__(self, referral_id: uuid.UUID) -> None:
        super().__init__(f"referral {referral_id} is already closed")
        self.referral_id = referral_id


@dataclass(frozen=True, slots=True)
class StoredReferral:
    referral_id: uuid.UUID
    request_id: uuid.UUID | None
    clearance_id: uuid.UUID | None
    source: str
    hall: str
    lane_id: str
    opened_at: datetime
    status: str
    reasons: list[str]
    detail: str
    document: dict[str, Any] | None
    face_matched: bool | None
    face_score: float | None
    liveness: str | None
    scheme: str | None
    policy_permitted_until: datetime | None
    explanation: dict[str, Any]
    journey: list[dict[str, str]]
    facts: dict[str, Any]
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    permitted_until: datetime | None
    note: str | None


def _stored(row: ReferralRow) -> StoredReferral:
    return StoredReferral(
        referral_id=row.referral_id,
        request_id=row.request_id,
        clearance_id=row.clearance_id,
        source=row.source,
        hall=row.hall,
        lane_id=row.lane_id,
        opened_at=row.opened_at,
        status=row.status,
        reasons=list(row.reasons),
        detail=row.detail or "",
        document=dict(row.document) if row.document is not None else None,
        face_matched=row.face_matched,
        face_score=row.face_score,
        liveness=row.liveness,
        scheme=row.scheme,
        policy_permitted_until=row.policy_permitted_until,
        explanation=dict(row.explanation or {}),
        journey=list(row.journey or []),
        facts=dict(row.facts or {}),
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        permitted_until=row.permitted_until,
        note=row.note,
    )


def backend_referral(
    *,
    referral_id: uuid.UUID,
    clearance_id: uuid.UUID,
    request: ClearanceRequest,
    reasons: list[ReasonCode],
    scheme: str | None,
    explanation: dict[str, Any],
    case: PolicyCase | None,
    opened_at: datetime,
) -> ReferralRow:
    """The referral of a clearance the backend referred (added to the clearance's transaction)."""
    facts: dict[str, Any] = {}
    if case is not None:
        if case.journey is not None:
            facts["journey"] = case.journey.model_dump(mode="json")
        if case.cruise is not None:
            facts["cruise"] = case.cruise.model_dump(mode="json")
    return ReferralRow(
        referral_id=referral_id,
        request_id=None,
        clearance_id=clearance_id,
        source="backend",
        hall=str(request.hall),
        lane_id=request.lane_id,
        opened_at=opened_at,
        status="open",
        reasons=[str(r) for r in reasons],
        detail="",
        document=request.document.model_dump(mode="json"),
        face_matched=request.face.matched,
        face_score=request.face.score,
        liveness=request.face.liveness,
        scheme=scheme,
        policy_permitted_until=stay_prefill(explanation),
        explanation=explanation,
        journey=[item.model_dump(mode="json") for item in request.journey],
        facts=facts,
    )


def kiosk_referral(
    report: KioskReferral, *, hall: str, lane_id: str, opened_at: datetime
) -> ReferralRow:
    """The referral a kiosk reports (it referred before any backend decision)."""
    return ReferralRow(
        referral_id=uuid.uuid4(),
        request_id=report.request_id,
        clearance_id=None,
        source="kiosk",
        hall=hall,
        lane_id=lane_id,
        opened_at=opened_at,
        status="open",
        reasons=[str(r) for r in report.reasons],
        detail=report.detail,
        document=report.document.model_dump(mode="json") if report.document else None,
        face_matched=report.face.matched if report.face else None,
        face_score=report.face.score if report.face else None,
        liveness=report.face.liveness if report.face else None,
        scheme=None,
        policy_permitted_until=None,
        explanation={},
        journey=[item.model_dump(mode="json") for item in report.journey],
        facts={},
    )


class ReferralStore:
    def __init__(self, records: RecordsStore) -> None:
        self.records = records

    @guarded
    def open_kiosk_referral(self, row: ReferralRow) -> tuple[StoredReferral, bool]:
        """Insert ``row`` unless its request_id already has a referral; (referral, created)."""
        request_id = row.request_id
        if request_id is None:
            raise ValueError("a kiosk referral needs its request_id")
        existing = self.find_by_request(request_id)
        if existing is not None:
            return existing, False
        try:
            with self.records.session() as session, session.begin():
                session.add(row)
                session.flush()
                stored = _stored(row)
        except IntegrityError:  # a concurrent retry inserted it first
            existing = self.find_by_request(request_id)
            if existing is None:
                raise
            return existing, False
        return stored, True

    @guarded
    def find_by_request(self, request_id: uuid.UUID) -> StoredReferral | None:
        """The referral of a kiosk report with this request_id, or of the clearance whose
        request it was (the backend referred, but the kiosk never got the answer)."""
        with self.records.session() as session:
            row = session.execute(
                select(ReferralRow).where(ReferralRow.request_id == request_id)
            ).scalar_one_or_none()
            if row is None:
                row = session.execute(
                    select(ReferralRow)
                    .join(ClearanceRecord, ClearanceRecord.clearance_id == ReferralRow.clearance_id)
                    .where(ClearanceRecord.request_id == request_id)
                ).scalar_one_or_none()
            return None if row is None else _stored(row)

    @guarded
    def referral_of_clearance(self, clearance_id: uuid.UUID) -> uuid.UUID | None:
        with self.records.session() as session:
            found: uuid.UUID | None = session.execute(
                select(ReferralRow.referral_id).where(ReferralRow.clearance_id == clearance_id)
            ).scalar_one_or_none()
            return found

    @guarded
    def get(self, referral_id: uuid.UUID) -> StoredReferral | None:
        with self.records.session() as session:
            row = session.get(ReferralRow, referral_id)
            return None if row is None else _stored(row)

    @guarded
    def list_open(self, hall: str, limit: int = 200) -> list[StoredReferral]:
        """The hall's open referrals, oldest first (the queue at the officer lanes)."""
        query = (
            select(ReferralRow)
            .where(ReferralRow.hall == hall, ReferralRow.status == "open")
            .order_by(ReferralRow.opened_at, ReferralRow.referral_id)
            .limit(limit)
        )
        with self.records.session() as session:
            return [_stored(row) for row in session.execute(query).scalars()]

    @guarded
    def close(
        self,
        referral_id: uuid.UUID,
        *,
        decision: OfficerDecision,
        actor: str,
        role: str,
        at: datetime,
        permitted_until: datetime | None,
        note: str,
    ) -> StoredReferral:
        """Record the officer's decision and its audit entry together; raises
        :class:`ReferralNotFoundError` or :class:`ReferralClosedError`."""
        with self.records.session() as session, session.begin():
            result = session.execute(
                update(ReferralRow)
                .where(ReferralRow.referral_id == referral_id, ReferralRow.status == "open")
                .values(
                    status="closed",
                    decision=decision,
                    decided_by=actor,
                    decided_at=at,
                    permitted_until=permitted_until,
                    note=note,
                )
            )
            row = session.get(ReferralRow, referral_id, populate_existing=True)
            if row is None:
                raise ReferralNotFoundError(referral_id)
            if getattr(result, "rowcount", 0) != 1:
                raise ReferralClosedError(referral_id)
            append_audit(
                session,
                kind=DECISION_AUDIT_KIND,
                actor=actor,
                subject=f"referral:{referral_id}",
                detail={
                    "decision": decision,
                    "role": role,
                    "hall": row.hall,
                    "lane_id": row.lane_id,
                    "clearance_id": str(row.clearance_id) if row.clearance_id else None,
                    "reasons": list(row.reasons),
                    "permitted_until": to_cst(permitted_until).isoformat()
                    if permitted_until
                    else None,
                    "note": note,
                },
                at=at,
            )
            return _stored(row)
