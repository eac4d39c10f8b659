"""The HTTP contract for referrals between a kiosk and the backend.

``POST /v1/referrals``: a kiosk that referred a traveller on its own (the backend never decided:
document unreadable, face not captured, liveness failed, a timeout, a device or backend error)
reports it, with what it had read. Idempotent by ``request_id``: a retry, or a report for a
clearance the backend already referred, answers the referral already open.

``PUT /v1/referrals/{referral_id}/photos``: only for a referral, the chip (DG2) photo and the best
live frame as base64 JPEG, for the officer. The backend keeps them only while the referral is open.
"""

from __future__ import annotations

import uuid

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, field_validator

from bordergate.clearance_api import (
    MAX_JOURNEY_EVIDENCE,
    DocumentData,
    FaceResult,
    JourneyEvidence,
)
from bordergate.contracts import ReasonCode

MAX_PHOTO_BYTES = 256 * 1024
"""Per photo, as JPEG; the kiosk scales its images down to fit."""


class KioskReferral(BaseModel):
    """What a kiosk reports when it refers a traveller on its own (hall and lane: its token's)."""

    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(
        description="Idempotency key: the clearance request's id if one was sent, else the kiosk's"
    )
    reasons: list[ReasonCode] = Field(min_length=1, max_length=8)
    detail: str = Field(default="", max_length=300, description="Why, without personal data")
    document: DocumentData | None = Field(default=None, description="None if it was not read")
    face: FaceResult | None = None
    journey: list[JourneyEvidence] = Field(default_factory=list, max_length=MAX_JOURNEY_EVIDENCE)

    @field_validator("reasons")
    @classmethod
    def _a_referral(cls, reasons: list[ReasonCode]) -> list[ReasonCode]:
        if ReasonCode.TRAVELLER_LEFT in reasons:
            raise ValueError("a traveller who left is not referred to an officer")
        return list(dict.fromkeys(reasons))


class ReferralReceipt(BaseModel):
    referral_id: uuid.UUID
    created: bool = Field(description="False when the referral was already open (a retry)")


class ReferralPhotos(BaseModel):
    """The two photos, base64 JPEG (each at most ``MAX_PHOTO_BYTES`` decoded)."""

    model_config = ConfigDict(extra="forbid")

    document: Base64Bytes | None = Field(default=None, description="The chip's DG2 portrait")
    live: Base64Bytes | None = Field(default=None, description="The best live frame")

    @field_validator("document", "live")
    @classmethod
    def _small(cls, value: bytes | None) -> bytes | None:
        if value is not None and len(value) > MAX_PHOTO_BYTES:
            raise ValueError(f"photo larger than {MAX_PHOTO_BYTES} bytes")
        if value is not None and not value:
            raise ValueError("empty photo")
        return value
