"""Telling the officer about a referred traveller: the referral and its two photos.

The backend opens the referral itself when it referred (the decision carries ``referral_id``);
when the kiosk referred on its own (document unreadable, no face, liveness failed, a timeout, a
device or backend error) it reports the referral with what it had read. Then, and only then, the
chip portrait and the best live frame go up as JPEG, for the officer to compare. A traveller who
left is not referred. Nothing here changes the traveller's outcome: every failure is logged
(without any personal or biometric data) and swallowed.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import dataclass, field

import structlog
from PIL import Image

from bordergate.clearance_api import ClearanceDecision, DocumentData, FaceResult, JourneyEvidence
from bordergate.contracts import ReasonCode
from bordergate.referral_api import MAX_PHOTO_BYTES, KioskReferral
from hardware_mocks.interfaces import RGBImage
from kiosk.backend_client import BackendClient, BackendClientError

log = structlog.get_logger(__name__)

PHOTO_MAX_SIDE = 640
PHOTO_QUALITY = 85
# Details that may quote what was read (an MRZ field) are not sent; the reason says enough.
_DETAIL_WITHHELD = frozenset({ReasonCode.DOCUMENT_UNREADABLE})


@dataclass(slots=True)
class ReferralFacts:
    """What the session knows about a referred traveller (held only inside ``run()``)."""

    reasons: list[ReasonCode]
    detail: str
    request_id: uuid.UUID | None = None
    decision: ClearanceDecision | None = None
    document: DocumentData | None = None
    face: FaceResult | None = None
    journey: list[JourneyEvidence] = field(default_factory=list)


def jpeg_bytes(image: RGBImage, max_side: int = PHOTO_MAX_SIDE) -> bytes:
    """An H x W x 3 RGB image as a JPEG small enough for the upload limit."""
    picture = Image.fromarray(image, "RGB")
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    quality = PHOTO_QUALITY
    while True:
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=quality)
        data = out.getvalue()
        if len(data) <= MAX_PHOTO_BYTES or quality <= 40:
            return data
        quality -= 15


def kiosk_report(facts: ReferralFacts) -> KioskReferral:
    detail = "" if set(facts.reasons) & _DETAIL_WITHHELD else facts.detail[:300]
    return KioskReferral(
        # The clearance request's id when one was sent: the backend then answers the referral
        # it may have opened for it (the answer was lost), instead of opening a second one.
        request_id=facts.request_id or uuid.uuid4(),
        reasons=facts.reasons,
        detail=detail,
        document=facts.document,
        face=facts.face,
        journey=facts.journey,
    )


async def refer_to_officer(
    backend: BackendClient,
    facts: ReferralFacts,
    reference: RGBImage | None,
    live: RGBImage | None,
) -> uuid.UUID | None:
    """Make sure the officer has the referral, then upload the photos; the referral id, or
    None when it could not be reported (the traveller is referred all the same)."""
    if not facts.reasons or ReasonCode.TRAVELLER_LEFT in facts.reasons:
        return None
    referral_id = facts.decision.referral_id if facts.decision is not None else None
    try:
        if referral_id is None:
            receipt = await backend.report_referral(kiosk_report(facts))
            referral_id = receipt.referral_id
        if reference is None and live is None:
            return referral_id
        document_jpeg = (
            await asyncio.to_thread(jpeg_bytes, reference) if reference is not None else None
        )
        live_jpeg = await asyncio.to_thread(jpeg_bytes, live) if live is not None else None
        await backend.upload_referral_photos(referral_id, document=document_jpeg, live=live_jpeg)
        log.info(
            "referral photos sent",
            referral_id=str(referral_id),
            document=document_jpeg is not None,
            live=live_jpeg is not None,
        )
    except BackendClientError as exc:
        log.warning("referral not fully reported", error=type(exc).__name__, detail=str(exc))
    except Exception as exc:  # never let reporting change the traveller's outcome
        log.warning("referral not fully reported", error=type(exc).__name__)
    return referral_id
