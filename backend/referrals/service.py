"""The referral use cases: open (kiosk report), photos, the officer's view and decision.

Every change is published on the hall's ``referrals_channel`` after it is committed, so the
consoles of that hall see it at once; a lost publish costs only latency (the consoles resync).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, cast

import structlog
from anyio import to_thread
from redis.asyncio import Redis

from backend.auth.roles import Device, Principal, Role
from backend.policy.clock import to_cst
from backend.records.store import RecordsStore
from backend.referrals.models import (
    DecisionRequest,
    OfficerDecision,
    PhotoKind,
    ReferralView,
    reason_views,
)
from backend.referrals.photos import PhotoStore, sanitize_jpeg
from backend.referrals.store import (
    ReferralClosedError,
    ReferralNotFoundError,
    ReferralStore,
    StoredReferral,
    kiosk_referral,
)
from bordergate.contracts import Hall, ReferralChange, referrals_channel
from bordergate.referral_api import KioskReferral, ReferralPhotos

log = structlog.get_logger(__name__)

# Who may set another permitted stay than the policy computed.
STAY_ADJUSTERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


class DecisionNotAllowedError(Exception):
    """The principal may not make this decision as asked (an officer changing the stay)."""


class InvalidDecisionError(ValueError):
    """The decision is malformed for this referral (e.g. a stay on a refusal)."""


class NotYourReferralError(LookupError):
    """A kiosk asked about a referral of another lane (answered as not found)."""


def _cst(instant: datetime | None) -> datetime | None:
    """Stays are shown in hall time, as the policy states them (ends at 00:00 CST)."""
    return None if instant is None else to_cst(instant)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReferralService:
    def __init__(
        self,
        records: RecordsStore,
        redis: Redis,
        *,
        photo_ttl_s: int = 4 * 3600,
        publish_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = ReferralStore(records)
        self.photos = PhotoStore(redis, photo_ttl_s)
        self.redis = redis
        self.publish_timeout_s = publish_timeout_s
        self.clock = clock

    # -- live pushes ---------------------------------------------------------------------------

    async def notify(
        self, hall: str, referral_id: uuid.UUID, change: Literal["opened", "photos", "closed"]
    ) -> bool:
        """Publish one change for the hall's consoles; False (logged) if Redis failed."""
        message = ReferralChange(hall=Hall(hall), referral_id=str(referral_id), change=change)
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                await self.redis.publish(referrals_channel(Hall(hall)), message.model_dump_json())
        except Exception as exc:
            log.warning("referral.publish_failed", change=change, error=type(exc).__name__)
            return False
        return True

    async def opened(self, hall: str, referral_id: uuid.UUID) -> None:
        """Called by the clearance service once a referred clearance is committed."""
        await self.notify(hall, referral_id, "opened")

    # -- kiosks --------------------------------------------------------------------------------

    async def report(self, report: KioskReferral, device: Device) -> tuple[StoredReferral, bool]:
        """Open the kiosk's referral, once per request_id: (referral, created)."""
        row = kiosk_referral(
            report, hall=str(Hall(device.hall)), lane_id=device.lane_id, opened_at=self.clock()
        )
        stored, created = await to_thread.run_sync(self.store.open_kiosk_referral, row)
        if created:
            await self.notify(stored.hall, stored.referral_id, "opened")
            log.info(
                "referral.opened",
                referral_id=str(stored.referral_id),
                source="kiosk",
                hall=stored.hall,
                lane_id=stored.lane_id,
                reasons=stored.reasons,
            )
        return stored, created

    async def put_photos(
        self, referral_id: uuid.UUID, photos: ReferralPhotos, device: Device
    ) -> list[PhotoKind]:
        """Sanitise and keep the photos of the device's own open referral.

        Raises NotYourReferralError, ReferralClosedError or PhotoRejectedError."""
        stored = await to_thread.run_sync(self.store.get, referral_id)
        if stored is None or stored.hall != device.hall or stored.lane_id != device.lane_id:
            raise NotYourReferralError(str(referral_id))
        if stored.status != "open":
            raise ReferralClosedError(referral_id)
        raw: dict[PhotoKind, bytes] = {}
        if photos.document is not None:
            raw["document"] = photos.document
        if photos.live is not None:
            raw["live"] = photos.live
        if not raw:
            return []
        clean = {kind: await to_thread.run_sync(sanitize_jpeg, data) for kind, data in raw.items()}
        raw.clear()
        key = str(referral_id)
        await self.photos.put(key, clean)
        # A decision may have closed it while we decoded: then the photos must not stay.
        again = await to_thread.run_sync(self.store.get, referral_id)
        if again is None or again.status != "open":
            await self.photos.delete(key)
            raise ReferralClosedError(referral_id)
        await self.notify(stored.hall, referral_id, "photos")
        return list(clean)

    # -- officers ------------------------------------------------------------------------------

    async def view(self, stored: StoredReferral, language: str) -> ReferralView:
        kinds = await self.photos.kinds(str(stored.referral_id)) if stored.status == "open" else []
        return ReferralView(
            referral_id=stored.referral_id,
            clearance_id=stored.clearance_id,
            source="kiosk" if stored.source == "kiosk" else "backend",
            hall=Hall(stored.hall),
            lane_id=stored.lane_id,
            opened_at=stored.opened_at,
            status="closed" if stored.status == "closed" else "open",
            reasons=reason_views(stored.reasons, language),
            detail=stored.detail,
            document=stored.document,
            face_matched=stored.face_matched,
            face_score=stored.face_score,
            liveness=stored.liveness,
            scheme=stored.scheme,
            policy_permitted_until=_cst(stored.policy_permitted_until),
            explanation=stored.explanation,
            journey=stored.journey,
            facts=stored.facts,
            photos=kinds,
            decision=cast(OfficerDecision | None, stored.decision),
            decided_by=stored.decided_by,
            decided_at=stored.decided_at,
            permitted_until=_cst(stored.permitted_until),
            note=stored.note,
        )

    async def get(self, referral_id: uuid.UUID) -> StoredReferral | None:
        return await to_thread.run_sync(self.store.get, referral_id)

    async def list_open(self, hall: Hall, language: str) -> list[ReferralView]:
        stored = await to_thread.run_sync(self.store.list_open, str(hall))
        return [await self.view(s, language) for s in stored]

    async def photo(self, referral_id: uuid.UUID, kind: PhotoKind) -> bytes | None:
        return await self.photos.get(str(referral_id), kind)

    def _stay(
        self, stored: StoredReferral, request: DecisionRequest, principal: Principal
    ) -> datetime | None:
        if request.decision != "admit":
            if request.permitted_until is not None:
                raise InvalidDecisionError("only an admission has a permitted stay")
            return None
        computed = stored.policy_permitted_until
        asked = request.permitted_until
        if asked is None or (computed is not None and asked == computed):
            return computed
        if principal.role not in STAY_ADJUSTERS:
            raise DecisionNotAllowedError(
                "only a supervisor may set another permitted stay than the policy computed"
            )
        if asked <= stored.opened_at:
            raise InvalidDecisionError("the permitted stay must end after the traveller arrived")
        return asked

    async def decide(
        self, referral_id: uuid.UUID, request: DecisionRequest, principal: Principal
    ) -> StoredReferral:
        """Close the referral with the officer's decision (recorded and audited together), then
        delete its photos. Raises ReferralNotFoundError, ReferralClosedError,
        DecisionNotAllowedError or InvalidDecisionError."""
        stored = await to_thread.run_sync(self.store.get, referral_id)
        if stored is None:
            raise ReferralNotFoundError(referral_id)
        if stored.status != "open":
            raise ReferralClosedError(referral_id)
        stay = self._stay(stored, request, principal)
        now = self.clock()

        def close() -> StoredReferral:
            return self.store.close(
                referral_id,
                decision=request.decision,
                actor=principal.username,
                role=str(principal.role),
                at=now,
                permitted_until=stay,
                note=request.note,
            )

        closed = await to_thread.run_sync(close)
        try:
            await self.photos.delete(str(referral_id))
        except Exception as exc:  # the TTL removes them anyway
            log.warning("referral.photos_not_deleted", error=type(exc).__name__)
        await self.notify(closed.hall, referral_id, "closed")
        log.info(
            "referral.decided",
            referral_id=str(referral_id),
            hall=closed.hall,
            lane_id=closed.lane_id,
            decision=request.decision,
            decided_by=principal.username,
        )
        return closed


__all__ = [
    "DecisionNotAllowedError",
    "InvalidDecisionError",
    "NotYourReferralError",
    "ReferralClosedError",
    "ReferralNotFoundError",
    "ReferralService",
]
