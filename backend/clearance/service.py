"""The clearance use case: decide, record durably with its event, publish, answer.

A referred traveller's referral (:mod:`backend.referrals`) is written in the same transaction as
the clearance, announced to the hall's officer consoles, and its id returned to the kiosk (for
the photo upload).

Idempotent by ``request_id``: a retry with the same body gets the recorded decision back and
nothing is recorded or published again; the same ``request_id`` with another body is a conflict.

The kiosk is answered once the decision is committed: publishing its event and announcing a
referral (:meth:`ClearanceService.announce`) run after the answer, since the outbox row already
guarantees the event (a publish that fails is replayed) and a kiosk waits for nothing else.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Literal

import structlog
from anyio import to_thread

from backend.clearance.decision import decide, refer_untrusted_clock
from backend.clearance.facts import Sources, gather_facts
from backend.events.outbox import OutboxPublisher
from backend.metrics import BackendMetrics
from backend.policy.engine import PolicyEngine
from backend.records.store import (
    DecisionLateError,
    NewClearance,
    NewEvent,
    RecordsStore,
    StoredClearance,
)
from backend.referrals.service import ReferralService
from backend.referrals.store import backend_referral
from bordergate.clearance_api import ClearanceDecision, ClearanceRequest
from bordergate.contracts import STREAM_CLEARANCES, ClearanceOutcome, Hall, Outcome, encode_event

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
class Announcement:
    """What is left to do for a newly recorded clearance once the kiosk has its answer."""

    outbox_id: int
    event: ClearanceOutcome
    referral_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ClearanceResult:
    decision: ClearanceDecision
    replayed: bool
    """True when this answers a retry from the records (nothing new was recorded)."""
    announcement: Announcement | None = None
    """For :meth:`ClearanceService.announce`, after answering; None for a retry."""


def request_hash(request: ClearanceRequest) -> str:
    """Fingerprint of the parsed request (independent of key order and whitespace)."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _decision(stored: StoredClearance, referral_id: uuid.UUID | None) -> ClearanceDecision:
    return ClearanceDecision(
        referral_id=referral_id,
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
        referrals: ReferralService | None = None,
        decision_clock: Literal["backend", "request"] = "backend",
        clock_skew_tolerance_s: float = 120.0,
        decision_deadline_s: float | None = None,
        budget_margin_s: float = 0.1,
    ) -> None:
        self.decision_deadline_s = decision_deadline_s
        """Longest a decision may take to commit; past it, it is rolled back (DecisionLateError)."""
        self.budget_margin_s = budget_margin_s
        self.decision_clock = decision_clock
        """'backend': decide on ``clock``, refer a request whose arrival_time is off by more
        than ``clock_skew_tolerance_s``; 'request': on the request's arrival_time (replays)."""
        self.clock_skew_tolerance_s = clock_skew_tolerance_s
        self.referrals = referrals
        """Opens a referral with every referred clearance (same transaction) and announces it."""
        self.engine = engine
        self.sources = sources
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock

    async def _replay(self, stored: StoredClearance, fingerprint: str) -> ClearanceResult:
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
        referral_id = None
        if self.referrals is not None and stored.outcome is Outcome.REFER:
            referral_id = await to_thread.run_sync(
                self.referrals.store.referral_of_clearance, stored.clearance_id
            )
        return ClearanceResult(decision=_decision(stored, referral_id), replayed=True)

    def _deadline(self, budget_s: float | None, received_at: float | None) -> float | None:
        limits = [s for s in (self.decision_deadline_s,) if s is not None]
        if budget_s is not None:  # the kiosk's own remaining time, less the answer's trip
            limits.append(budget_s - self.budget_margin_s)
        start = received_at if received_at is not None else time.monotonic()
        return start + min(limits) if limits else None

    def _check_deadline(
        self, deadline: float | None, request: ClearanceRequest, started: float
    ) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            self._late(request, started)
            raise DecisionLateError(str(request.request_id))

    def _late(self, request: ClearanceRequest, started: float) -> None:
        log.warning(
            "clearance.late",
            request_id=str(request.request_id),
            hall=str(request.hall),
            lane_id=request.lane_id,
            elapsed_s=round(time.perf_counter() - started, 3),
        )

    async def clear(
        self,
        request: ClearanceRequest,
        *,
        budget_s: float | None = None,
        received_at: float | None = None,
    ) -> ClearanceResult:
        """Decide one traveller; raises IdempotencyConflictError, RecordsUnavailableError or
        DecisionLateError: not committed within the deadline, counted from ``received_at``
        (``time.monotonic()``; default now) for the backend's own limit or ``budget_s``, the
        kiosk's remaining budget, whichever ends first."""
        deadline = self._deadline(budget_s, received_at)
        started = time.perf_counter()
        # Under overload a request may reach us already late: shed it before doing any work, so
        # the time goes to requests whose kiosk still waits.
        self._check_deadline(deadline, request, started)
        fingerprint = request_hash(request)
        existing = await to_thread.run_sync(self.store.find_clearance, request.request_id)
        if existing is not None:
            return await self._replay(existing, fingerprint)

        now = self.clock()
        judged, skew_s = request, (request.arrival_time - now).total_seconds()
        if self.decision_clock == "backend":  # the stay counts from our clock, not the kiosk's
            judged = request.model_copy(update={"arrival_time": now})
        facts = await to_thread.run_sync(gather_facts, judged, self.sources)
        decision = decide(judged, facts, self.engine)
        if self.decision_clock == "backend":  # for the officer: whose clock, how far off
            clock_note = {"decided_on": "backend clock", "kiosk_skew_s": round(skew_s, 1)}
            decision = replace(decision, explanation={**decision.explanation, "clock": clock_note})
        if self.decision_clock == "backend" and abs(skew_s) > self.clock_skew_tolerance_s:
            log.warning(
                "clearance.kiosk_clock_skew",
                hall=str(request.hall),
                lane_id=request.lane_id,
                skew_s=round(skew_s, 1),
            )
            decision = refer_untrusted_clock(decision, skew_s, self.clock_skew_tolerance_s)
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
        referral = None
        if outcome is Outcome.REFER and self.referrals is not None:
            referral = backend_referral(
                referral_id=uuid.uuid4(),
                clearance_id=clearance_id,
                request=request,
                reasons=reasons,
                scheme=scheme,
                explanation=decision.explanation,
                case=facts.case,
                opened_at=now,
            )
        self._check_deadline(deadline, request, started)
        try:
            result = await to_thread.run_sync(
                partial(
                    self.store.record_clearance,
                    also=() if referral is None else (referral,),
                    deadline=deadline,
                ),
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
        except DecisionLateError:
            self._late(request, started)
            raise
        if not result.created:  # a concurrent retry recorded it first
            return await self._replay(result.clearance, fingerprint)

        self.metrics.outbox_pending.inc()
        assert result.outbox_id is not None
        hall = Hall(request.hall)
        referral_id = referral.referral_id if referral is not None else None
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
            referral_id=str(referral_id) if referral_id else None,
        )
        return ClearanceResult(
            decision=_decision(result.clearance, referral_id),
            replayed=False,
            announcement=Announcement(result.outbox_id, event, referral_id),
        )

    async def announce(self, announcement: Announcement) -> bool:
        """Publish a recorded clearance's event and announce its referral to the hall's
        consoles; False if the event stays pending in the outbox (the replay publishes it)."""
        event = announcement.event
        try:
            published = await self.publisher.publish_now(
                announcement.outbox_id, STREAM_CLEARANCES, encode_event(event), event.event_id
            )
            # Redis just failed the event's publish: skip the console push as well (the
            # consoles resync their lists within seconds).
            if announcement.referral_id is not None and self.referrals is not None and published:
                await self.referrals.opened(str(event.hall), announcement.referral_id)
        except Exception:  # after the answer, nobody else would see it; the replay publishes
            log.exception("clearance.announce_failed", clearance_id=event.clearance_id)
            return False
        return published
