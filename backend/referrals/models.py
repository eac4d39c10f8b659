"""What the officer console reads and sends: a referral's view, and the officer's decision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bordergate.contracts import Hall, ReasonCode
from bordergate.reasons import Language, reason_text

ReferralStatus = Literal["open", "closed"]
OfficerDecision = Literal["admit", "refuse", "secondary"]
PhotoKind = Literal["document", "live"]
PHOTO_KINDS: tuple[PhotoKind, PhotoKind] = ("document", "live")


class ReasonView(BaseModel):
    code: ReasonCode
    text: str


class ReferralView(BaseModel):
    """One referral as the officer sees it (reason texts in the officer's language)."""

    referral_id: uuid.UUID
    clearance_id: uuid.UUID | None
    source: Literal["backend", "kiosk"]
    hall: Hall
    lane_id: str
    opened_at: AwareDatetime
    status: ReferralStatus
    reasons: list[ReasonView]
    detail: str
    document: dict[str, Any] | None
    face_matched: bool | None
    face_score: float | None
    liveness: str | None
    scheme: str | None
    policy_permitted_until: AwareDatetime | None = Field(
        description="The stay the policy computed: what an admit is prefilled with"
    )
    explanation: dict[str, Any]
    journey: list[dict[str, str]]
    facts: dict[str, Any] = Field(description="Onward journey and cruise manifest facts")
    photos: list[PhotoKind] = Field(description="The photos held for this referral now")
    decision: OfficerDecision | None = None
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    permitted_until: AwareDatetime | None = None
    note: str | None = None


class DecisionRequest(BaseModel):
    """The officer's decision. ``permitted_until``: only a supervisor may set another date than
    the policy computed; an officer's admit takes the computed one."""

    model_config = ConfigDict(extra="forbid")

    decision: OfficerDecision
    permitted_until: AwareDatetime | None = None
    note: str = Field(default="", max_length=500)


def reason_views(codes: list[str], language: str) -> list[ReasonView]:
    lang: Language = "zh" if language == "zh" else "en"
    out: list[ReasonView] = []
    for code in codes:
        try:
            reason = ReasonCode(code)
        except ValueError:  # a code retired since: shown as it was recorded
            continue
        out.append(ReasonView(code=reason, text=reason_text(reason, lang)))
    return out


def stay_prefill(explanation: dict[str, Any]) -> datetime | None:
    """The permitted stay the policy computed (it may have admitted while the checks referred)."""
    policy = explanation.get("policy")
    raw = policy.get("permitted_until") if isinstance(policy, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
