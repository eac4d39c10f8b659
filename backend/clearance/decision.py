"""One clearance decision: the kiosk's checks, the facts gathered, and the policy engine.

The gate may open only when every check passed: the document's integrity (check digits, chip),
the face (1:1 match, liveness), the journey evidence, and an entry scheme the policy engine
admits under. Anything else refers the traveller to an officer, with every reason that applies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from backend.clearance.facts import GatheredFacts
from backend.policy.engine import PolicyEngine
from bordergate.clearance_api import ClearanceRequest
from bordergate.contracts import Outcome, ReasonCode


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reasons: list[ReasonCode]
    scheme: str | None
    permitted_until: datetime | None
    explanation: dict[str, Any]
    """For the officer console: every rule tried and its result, and the gathering notes."""


def integrity_reasons(request: ClearanceRequest) -> list[ReasonCode]:
    """What the kiosk measured that stops automatic admission, each once, in a stable order."""
    doc, face = request.document, request.face
    checks = [
        (not doc.check_digits_valid, ReasonCode.DOCUMENT_INVALID),
        (doc.chip_authenticated is False, ReasonCode.DOCUMENT_INVALID),
        # An e-gate takes only a chip it could read and authenticate; anything less is doubt.
        (doc.chip_authenticated is None, ReasonCode.CHIP_UNREADABLE),
        (not face.matched, ReasonCode.FACE_MISMATCH),
        (face.liveness == "failed", ReasonCode.LIVENESS_FAILED),
    ]
    return list(dict.fromkeys(reason for failed, reason in checks if failed))


def refer_untrusted_clock(decision: Decision, skew_s: float, tolerance_s: float) -> Decision:
    """Refer (device-error) a decision whose kiosk clock is off by more than ``tolerance_s``:
    a device that cannot keep time is in doubt, and its other timestamps are wrong too."""
    return Decision(
        outcome=Outcome.REFER,
        reasons=list(dict.fromkeys([ReasonCode.DEVICE_ERROR, *decision.reasons])),
        scheme=decision.scheme,
        permitted_until=None,
        explanation={
            **decision.explanation,
            "device_clock": f"kiosk clock off by {skew_s:+.0f} s (tolerance {tolerance_s:.0f} s)",
        },
    )


def decide(request: ClearanceRequest, facts: GatheredFacts, engine: PolicyEngine) -> Decision:
    policy, rules = engine.decide_explained(facts.case)
    reasons = integrity_reasons(request) + facts.problems
    admit = not reasons and policy.decision == "admit"
    if policy.decision == "refer":
        reasons += policy.reasons
    explanation = {
        "policy": policy.model_dump(mode="json"),
        "rules": [{**asdict(r), "reason": r.reason and str(r.reason)} for r in rules],
        **facts.notes,
    }
    return Decision(
        outcome=Outcome.ADMIT if admit else Outcome.REFER,
        reasons=list(dict.fromkeys(reasons)),
        scheme=policy.scheme,
        permitted_until=policy.permitted_until if admit else None,
        explanation=explanation,
    )
