"""The dashboard's records: wait samples, alerts and their acknowledgements, and the day's
clearances for the CSV export. Blocking, like :class:`RecordsStore`: call from a worker thread.

An acknowledgement is written in one transaction with its audit entry (kind ``alert-ack``): both
are recorded or neither. Acknowledging an acknowledged alert changes nothing and returns the
first acknowledgement (``already=True``): two managers pressing at once, or a retry after a lost
response, are not errors, and the audit trail holds one entry per alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from backend.audit.chain import append_audit
from backend.auth.roles import Principal
from backend.dashboard.models import AckReceipt, AlertView, WaitSample
from backend.dashboard.tables import AlertRow, WaitSampleRow
from backend.policy.clock import cst_midnight
from backend.records.store import RecordsStore, guarded
from backend.records.tables import ClearanceRecord
from bordergate.contracts import Alert, Hall

AUDIT_KIND_ALERT_ACK = "alert-ack"
CLEARED_SUFFIX = "-cleared"
MESSAGE_MAX = 1000


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The CST day ``day`` as [start, end) instants."""
    start = cst_midnight(day)
    return start, start + timedelta(days=1)


def _sample(row: WaitSampleRow) -> WaitSample:
    return WaitSample(
        hall=Hall(row.hall),
        at=row.at,
        stats_at=row.stats_at,
        samples=row.samples,
        p95_wait_s=row.p95_wait_s,
        mean_wait_s=row.mean_wait_s,
        share_within_target=row.share_within_target,
        target_s=row.target_s,
        waiting_now=row.waiting_now,
        egates_open=row.egates_open,
        officer_lanes_open=row.officer_lanes_open,
    )


def alert_view(row: AlertRow) -> AlertView:
    return AlertView(
        event_id=row.event_id,
        hall=Hall(row.hall),
        kind=row.kind,
        severity=row.severity,
        message=row.message,
        data=dict(row.data or {}),
        raised_at=row.raised_at,
        cleared_at=row.cleared_at,
        acked_by=row.acked_by,
        acked_by_name=row.acked_by_name,
        acked_at=row.acked_at,
    )


@dataclass(frozen=True, slots=True)
class ClearanceLine:
    """One clearance for the export: no names, no document numbers."""

    decided_at: datetime
    hall: str
    lane_id: str
    outcome: str
    reasons: list[str]
    scheme: str | None


class DashboardStore:
    def __init__(self, records: RecordsStore) -> None:
        self._records = records

    # ---- wait samples ---------------------------------------------------------------------------

    @guarded
    def add_sample(self, sample: WaitSample) -> bool:
        """Keep one sample; False if the hall already has one for that interval."""
        row = WaitSampleRow(**sample.model_dump())
        row.hall = str(sample.hall)
        try:
            with self._records.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            return False
        return True

    def samples(self, day: date, hall: Hall | None = None) -> list[WaitSample]:
        """The samples of a CST day."""
        return self.samples_between(*day_bounds(day), hall)

    @guarded
    def samples_between(
        self, start: datetime, end: datetime, hall: Hall | None = None
    ) -> list[WaitSample]:
        query = select(WaitSampleRow).where(WaitSampleRow.at >= start, WaitSampleRow.at < end)
        if hall is not None:
            query = query.where(WaitSampleRow.hall == str(hall))
        query = query.order_by(WaitSampleRow.at, WaitSampleRow.hall)
        with self._records.session() as session:
            return [_sample(row) for row in session.execute(query).scalars()]

    # ---- alerts ---------------------------------------------------------------------------------

    @guarded
    def record_alert(
        self, alert: Alert, stream_id: str | None, now: datetime | None = None
    ) -> AlertView | None:
        """Keep an alert from the stream; None if it was already kept (another worker, a replay).

        A clearing alert (kind ``<kind>-cleared``) also marks the alert it clears."""
        now = now or datetime.now(UTC)
        row = AlertRow(
            event_id=alert.event_id,
            stream_id=stream_id,
            hall=str(alert.hall),
            kind=alert.kind,
            severity=alert.severity,
            message=alert.message[:MESSAGE_MAX],
            data=alert.data,
            raised_at=alert.at,
            recorded_at=now,
        )
        raised = alert.data.get("raised_event_id")
        try:
            with self._records.session() as session, session.begin():
                session.add(row)
                session.flush()
                if alert.kind.endswith(CLEARED_SUFFIX) and isinstance(raised, str):
                    session.execute(
                        update(AlertRow)
                        .where(AlertRow.event_id == raised, AlertRow.cleared_at.is_(None))
                        .values(cleared_at=alert.at)
                    )
                return alert_view(row)
        except IntegrityError:
            return None

    @guarded
    def alert(self, event_id: str) -> AlertView | None:
        with self._records.session() as session:
            row = session.get(AlertRow, event_id)
            return None if row is None else alert_view(row)

    def alerts(self, day: date) -> list[AlertView]:
        """The day's alerts (CST), newest first."""
        return self.alerts_between(*day_bounds(day))

    @guarded
    def alerts_between(self, start: datetime, end: datetime) -> list[AlertView]:
        """The alerts raised in ``[start, end)``, newest first."""
        query = (
            select(AlertRow)
            .where(AlertRow.raised_at >= start, AlertRow.raised_at < end)
            .order_by(AlertRow.raised_at.desc(), AlertRow.event_id)
        )
        with self._records.session() as session:
            return [alert_view(row) for row in session.execute(query).scalars()]

    @guarded
    def acknowledge(
        self, event_id: str, principal: Principal, now: datetime | None = None
    ) -> AckReceipt | None:
        """Acknowledge an alert as ``principal`` (audited); None if there is no such alert."""
        now = now or datetime.now(UTC)
        with self._records.session() as session, session.begin():
            done = session.execute(
                update(AlertRow)
                .where(AlertRow.event_id == event_id, AlertRow.acked_at.is_(None))
                .values(
                    acked_by=principal.username,
                    acked_by_name=principal.display_name,
                    acked_at=now,
                )
            )
            if getattr(done, "rowcount", 0) == 1:
                row = session.get(AlertRow, event_id)
                assert row is not None
                append_audit(
                    session,
                    kind=AUDIT_KIND_ALERT_ACK,
                    actor=principal.username,
                    subject=event_id,
                    detail={
                        "hall": row.hall,
                        "alert_kind": row.kind,
                        "severity": row.severity,
                        "raised_at": row.raised_at.isoformat(),
                        "role": str(principal.role),
                    },
                    at=now,
                )
                return AckReceipt(alert=alert_view(row), already=False)
            row = session.get(AlertRow, event_id)
            return None if row is None else AckReceipt(alert=alert_view(row), already=True)

    # ---- clearances (export) --------------------------------------------------------------------

    @guarded
    def clearances(self, day: date) -> list[ClearanceLine]:
        start, end = day_bounds(day)
        query = (
            select(
                ClearanceRecord.decided_at,
                ClearanceRecord.hall,
                ClearanceRecord.lane_id,
                ClearanceRecord.outcome,
                ClearanceRecord.reasons,
                ClearanceRecord.scheme,
            )
            .where(ClearanceRecord.decided_at >= start, ClearanceRecord.decided_at < end)
            .order_by(ClearanceRecord.decided_at)
        )
        with self._records.session() as session:
            return [
                ClearanceLine(at, hall, lane, outcome, [str(r) for r in reasons or []], scheme)
                for at, hall, lane, outcome, reasons, scheme in session.execute(query)
            ]
