"""The clearance use case: decide, record durably with its event, publish, answer.

Idempotent by ``request_id``: a retry with the same body gets the recorded decision back and
nothing is recorded or published again; the same ``request_id`` with another body is a conflict.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from anyio import to_thread

from backend.clearance.decision import decide
from backend.clearance.facts import Sources, gather_facts
from backend.events.outbox import OutboxPublisher
from backend.metrics import BackendMetrics
from backend.policy.engine import PolicyEngine
from backend.records.store import NewClearance, NewEvent, RecordsStore, StoredClearance
from bordergate.clearance_api import ClearanceDecision, ClearanceRequest
from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, Hall, encode_event

log = structlog.get_logger(__name__)


class IdempotencyConflictError(Exception):
    """The request_id was already used for a different request body."""

    def __init__(self, request_id: uuid.UUID) -> None:
        super().__init__(
            f"request_id {request_id} was already used for a different request; a retry must "
            "resend the identical body, and a new clearance needs a new request_id"
        )
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class ClearanceResult:
    decision: ClearanceDecision
    replayed: bool
    """True when this answers a retry from the records (nothing new was recorded)."""


def request_hash(request: ClearanceRequest) -> str:
    """Fingerprint of the parsed request (independent of key order and whitespace)."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _decision(stored: StoredClearance) -> ClearanceDecision:
    return ClearanceDecision(
        clearance_id=stored.clearance_id,
        request_id=stored.request_id,
        outcome=stored.outcome,
        reasons=stored.reasons,
        scheme=stored.scheme,
        permitted_until=stored.permitted_until,
        decided_at=stored.decided_at,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ClearanceService:
    def __init__(
        self,
        store: RecordsStore,
        publisher: OutboxPublisher,
        metrics: BackendMetrics,
        engine: PolicyEngine,
        sources: Sources,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.sources = sources
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock

    def _replay(self, stored: StoredClearance, fingerprint: str) -> ClearanceResult:
        if stored.request_hash != fingerprint:
            log.warning("clearance.conflict", request_id=str(stored.request_id))
            raise IdempotencyConflictError(stored.request_id)
        self.metrics.retries.inc()
        log.info(
            "clearance.retry_answered",
            clearance_id=str(stored.clearance_id),
            hall=stored.hall,
            lane_id=stored.lane_id,
            outcome=str(stored.outcome),
        )
        return ClearanceResult(decision=_decision(stored), replayed=True)

    async def clear(self, request: ClearanceRequest) -> ClearanceResult:
        """Decide one traveller; raises IdempotencyConflictError or RecordsUnavailableError."""
        started = time.perf_counter()
        fingerprint = request_hash(request)
        existing = await to_thread.run_sync(self.store.find_clearance, request.request_id)
        if existing is not None:
            return self._replay(existing, fingerprint)

        now = self.clock()
        facts = await to_thread.run_sync(gather_facts, request, self.sources)
        decision = decide(request, facts, self.engine)
        outcome, reasons = decision.outcome, decision.reasons
        scheme, permitted_until = decision.scheme, decision.permitted_until
        clearance_id = uuid.uuid4()
        event = ClearanceOutcome(
            at=now,
            clearance_id=str(clearance_id),
            hall=request.hall,
            lane_id=request.lane_id,
            outcome=outcome,
            reasons=reasons,
            scheme=scheme,
            nationality=request.document.nationality,
            permitted_until=permitted_until,
        )
        result = await to_thread.run_sync(
            self.store.record_clearance,
            NewClearance(
                clearance_id=clearance_id,
                request=request,
                request_hash=fingerprint,
                outcome=outcome,
                reasons=reasons,
                scheme=scheme,
                permitted_until=permitted_until,
                decided_at=now,
                explanation=decision.explanation,
            ),
            NewEvent(
                event_id=event.event_id,
                stream=STREAM_CLEARANCES,
                fields=encode_event(event),
                created_at=now,
            ),
        )
        if not result.created:  # a concurrent retry recorded it first
            return self._replay(result.clearance, fingerprint)

        self.metrics.outbox_pending.inc()
        assert result.outbox_id is not None
        published = await self.publisher.publish_now(
            result.outbox_id, STREAM_CLEARANCES, encode_event(event)
        )
        hall = Hall(request.hall)
        self.metrics.decisions.labels(hall=str(hall), outcome=str(outcome)).inc()
        self.metrics.decision_seconds.labels(hall=str(hall)).observe(time.perf_counter() - started)
        # Never the document number, names or anything biometric.
        log.info(
            "clearance.decided",
            clearance_id=str(clearance_id),
            event_id=event.event_id,
            hall=str(hall),
            lane_id=request.lane_id,
            outcome=str(outcome),
            reasons=[str(r) for r in reasons],
            scheme=scheme,
            published=published,
        )
        return ClearanceResult(decision=_decision(result.clearance), replayed=False)
