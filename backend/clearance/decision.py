"""The foundation's decision rules: a small pure function.

A later issue replaces this with the effective-dated policy engine (transit and cruise visa-free
schemes). Until then only citizens are admitted; everyone else is referred to an officer. The
function fails closed: whenever a check did not clearly pass, the outcome is ``refer``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
CITIZEN_NATIONALITY = "CHN"
CITIZEN_SCHEME = "citizen"


class Decision(NamedTuple):
    outcome: Outcome
    reasons: list[ReasonCode]
    scheme: str | None
    permitted_until: datetime | None


def refer_reasons(request: ClearanceRequest) -> list[ReasonCode]:
    """Every reason that stops automatic admission, each once, in a stable order."""
    doc = request.document
    reasons: list[ReasonCode] = []

    def add(reason: ReasonCode) -> None:
        if reason not in reasons:
            reasons.append(reason)

    if not doc.check_digits_valid:
        add(ReasonCode.DOCUMENT_INVALID)
    if doc.chip_authenticated is False:
        add(ReasonCode.DOCUMENT_INVALID)
    arrival_day = request.arrival_time.astimezone(CHINA_STANDARD_TIME).date()
    if doc.expiry_date < arrival_day:
        add(ReasonCode.DOCUMENT_EXPIRED)
    if not request.face.matched:
        add(ReasonCode.FACE_MISMATCH)
    if request.face.liveness == "failed":
        add(ReasonCode.LIVENESS_FAILED)
    return reasons


def decide(request: ClearanceRequest, now: datetime) -> Decision:
    """Decide one traveller.

    ``now`` is the decision time; these rules depend only on the arrival date (in China Standard
    Time), but the policy engine that replaces them selects its effective-dated rules by it.
    """
    del now  # kept in the signature for the policy engine
    reasons = refer_reasons(request)
    if reasons:
        return Decision(Outcome.REFER, reasons, None, None)
    if request.document.nationality == CITIZEN_NATIONALITY:
        return Decision(Outcome.ADMIT, [], CITIZEN_SCHEME, None)
    return Decision(Outcome.REFER, [ReasonCode.NO_SCHEME], None, None)
