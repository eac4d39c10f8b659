"""The HTTP contract between a kiosk and the backend: ``POST /v1/clearances``.

The kiosk reports what it read and measured; the backend alone decides. Nothing biometric
crosses this boundary: the face result is a score and a decision, never an image or template.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from bordergate.contracts import Hall, Outcome, ReasonCode
from bordergate.countries import UnknownCountryError, normalize

ICAO_CODE = r"^[A-Z<]{1,3}$"
ARRIVAL_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
DECISION_BUDGET_HEADER = "X-Decision-Budget-Ms"
"""The kiosk's remaining time budget in ms, so the backend never commits a decision the kiosk
has stopped waiting for (it refers the traveller when its budget runs out)."""


class DocumentData(BaseModel):
    """The identity page as read from the MRZ (and later verified against the chip)."""

    model_config = ConfigDict(extra="forbid")

    document_type: str = Field(pattern=r"^[A-Z][A-Z<]?$", examples=["P", "I"])
    issuing_state: str = Field(pattern=ICAO_CODE)
    nationality: str = Field(pattern=ICAO_CODE)
    document_number: str = Field(min_length=1, max_length=9, pattern=r"^[A-Z0-9<]+$")
    surname: str = Field(max_length=39)
    given_names: str = Field(default="", max_length=39)
    birth_date: date
    expiry_date: date
    sex: Literal["M", "F", "X"]
    check_digits_valid: bool = Field(description="Every ICAO 9303 check digit verified")
    chip_authenticated: bool | None = Field(
        default=None, description="Passive authentication result; None when no chip was read"
    )

    @field_validator("issuing_state", "nationality")
    @classmethod
    def _known_icao_code(cls, code: str) -> str:
        try:
            return normalize(code)
        except UnknownCountryError as exc:
            raise ValueError(str(exc)) from None


class FaceResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matched: bool
    score: float = Field(ge=0.0, le=1.0, description="Similarity, 1.0 the same face")
    liveness: Literal["passed", "failed", "not_checked"] = "not_checked"


MAX_JOURNEY_EVIDENCE = 4


class JourneyEvidence(BaseModel):
    """One barcode the traveller presented, as decoded (the backend parses and judges it).

    ``boarding_pass``: IATA BCBP text (starts with ``M``); ``cruise_card``: bordergate's cruise
    card text (starts with ``BGCRUISE``, see ``backend.journey.cruise_card``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["boarding_pass", "cruise_card"]
    payload: str = Field(max_length=2048, description="The barcode's text as scanned")


class ClearanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(description="Idempotency key: a retry never records twice")
    hall: Hall
    lane_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    arrival_time: AwareDatetime = Field(
        description=f"The kiosk's clock at the gate; {ARRIVAL_RANGE[0].year}-"
        f"{ARRIVAL_RANGE[1].year - 1} (a clock outside that is broken)"
    )
    document: DocumentData
    face: FaceResult
    journey: list[JourneyEvidence] = Field(
        default_factory=list,
        max_length=MAX_JOURNEY_EVIDENCE,
        description=(
            "What the traveller presented: a transit traveller the inbound boarding pass (the "
            "leg that brought them to TSN) and the onward one; a cruise passenger the cruise "
            "card. Empty when nothing was presented (or none is asked of citizens)."
        ),
    )

    @field_validator("arrival_time")
    @classmethod
    def _plausible_arrival(cls, value: datetime) -> datetime:
        # Stays and look-backs are date arithmetic: near the calendar's ends it overflows.
        if not ARRIVAL_RANGE[0] <= value < ARRIVAL_RANGE[1]:
            raise ValueError("arrival_time is outside 2000-2199: the kiosk's clock is broken")
        return value


class ClearanceDecision(BaseModel):
    clearance_id: uuid.UUID
    referral_id: uuid.UUID | None = Field(
        default=None,
        description="On refer: the officer's referral, for the kiosk's photo upload",
    )
    request_id: uuid.UUID
    outcome: Outcome
    reasons: list[ReasonCode]
    scheme: str | None
    permitted_until: AwareDatetime | None
    decided_at: AwareDatetime
