"""The cruise manifest use cases: submit, read back, and look a traveller up for clearance."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from anyio import to_thread

from backend.cruise.agencies import AgencyRegistry, AgencyStatus, load_agencies
from backend.cruise.models import (
    ManifestGroup,
    ManifestIn,
    ManifestMember,
    ManifestReceipt,
    ManifestView,
    Ship,
)
from backend.cruise.settings import CruiseSettings
from backend.cruise.store import (
    ConflictingMembersError,
    ManifestStore,
    MemberMatch,
    MemberRecord,
    NewManifest,
)
from backend.policy.case import CruiseFacts
from backend.policy.clock import cst_date, cst_midnight
from backend.records.store import RecordsStore
from bordergate.countries import UnknownCountryError, normalize

log = structlog.get_logger(__name__)


class AgencyNotLicensedError(Exception):
    def __init__(self, status: AgencyStatus) -> None:
        reasons = {
            AgencyStatus.UNKNOWN: "is not a licensed travel agency",
            AgencyStatus.NOT_YET_VALID: "is not valid yet",
            AgencyStatus.EXPIRED: "has expired",
            AgencyStatus.REVOKED: "has been revoked",
        }
        super().__init__(
            f"the agency licence {reasons.get(status, 'is not valid')}; only licensed travel "
            "agencies may submit cruise group name lists. Nothing was stored."
        )
        self.status = status


class ManifestTooLateError(Exception):
    def __init__(self, lead_time: timedelta) -> None:
        hours = lead_time.total_seconds() / 3600
        super().__init__(
            f"the name list must be submitted at least {hours:g} h before the ship's arrival"
            if hours
            else "the name list must be submitted before the ship's arrival"
        )


@dataclass(frozen=True, slots=True)
class SubmitResult:
    receipt: ManifestReceipt
    replayed: bool


def _body_hash(manifest: ManifestIn) -> str:
    canonical = json.dumps(manifest.canonical(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _clean_document_number(document_number: str) -> str:
    return document_number.strip().upper().replace("<", "")


class CruiseService:
    """Manifests and the cruise lookup; the store calls are blocking (see the ``a*`` variants)."""

    def __init__(
        self,
        store: RecordsStore,
        agencies: AgencyRegistry,
        *,
        lead_time: timedelta = timedelta(hours=24),
        match_window: timedelta = timedelta(hours=6),
        clock: Callable[[], datetime] = partial(datetime.now, UTC),
    ) -> None:
        self.manifests = ManifestStore(store)
        self.agencies = agencies
        self.lead_time = lead_time
        self.match_window = match_window
        self.clock = clock

    # --- submission ---------------------------------------------------------------------------

    def submit(self, manifest: ManifestIn) -> SubmitResult:
        """Check the licence and lead time, then store (insert, replay or amend).

        Raises :class:`AgencyNotLicensedError`, :class:`ManifestTooLateError`,
        :class:`~backend.cruise.store.ConflictingMembersError` (nothing stored in each case).
        """
        now = self.clock()
        status = self.agencies.status(manifest.agency_licence, cst_date(now))
        if status is not AgencyStatus.LICENSED:
            log.info(
                "cruise.manifest_refused",
                reason="agency_not_licensed",
                licence_status=str(status),
                ship_code=manifest.ship.code,
                voyage=manifest.voyage,
            )
            raise AgencyNotLicensedError(status)
        body_hash = _body_hash(manifest)
        head = self.manifests.find_head(
            manifest.ship.code, manifest.voyage, manifest.agency_licence
        )
        is_retry = head is not None and head.body_hash == body_hash
        if not is_retry and manifest.arrival - now < self.lead_time:
            log.info(
                "cruise.manifest_refused",
                reason="manifest_too_late",
                ship_code=manifest.ship.code,
                voyage=manifest.voyage,
            )
            raise ManifestTooLateError(self.lead_time)
        new = NewManifest(
            ship_code=manifest.ship.code,
            ship_name=manifest.ship.name,
            voyage=manifest.voyage,
            agency_licence=manifest.agency_licence,
            port=manifest.port,
            arrival=manifest.arrival,
            departs_china=manifest.departs_china,
            body_hash=body_hash,
            groups=[
                (
                    g.group_id,
                    [
                        MemberRecord(
                            group_id=g.group_id,
                            document_number=m.document_number,
                            nationality=m.nationality,
                            surname=m.surname,
                            given_names=m.given_names,
                        )
                        for m in g.members
                    ],
                )
                for g in manifest.groups
            ],
            submitted_at=now,
        )
        try:
            saved = self.manifests.save(new)
        except ConflictingMembersError as exc:
            log.info(
                "cruise.manifest_refused",
                reason="members_on_other_manifest",
                ship_code=manifest.ship.code,
                voyage=manifest.voyage,
                conflicting=exc.count,
            )
            raise
        receipt = ManifestReceipt(
            manifest_id=str(saved.manifest_id),
            version=saved.version,
            status=saved.status,
            ship_code=manifest.ship.code,
            voyage=manifest.voyage,
            groups=len(manifest.groups),
            members=manifest.member_count,
        )
        log.info("cruise.manifest_stored", **receipt.model_dump())  # ids and counts only
        return SubmitResult(receipt=receipt, replayed=saved.status == "unchanged")

    def get(self, manifest_id: uuid.UUID) -> ManifestView | None:
        stored = self.manifests.get(manifest_id)
        if stored is None:
            return None
        return ManifestView(
            manifest_id=str(stored.manifest_id),
            version=stored.version,
            ship=Ship(name=stored.ship_name, code=stored.ship_code),
            voyage=stored.voyage,
            port="TSN-CRUISE",
            arrival=stored.arrival,
            departs_china=stored.departs_china,
            agency_licence=stored.agency_licence,
            groups=[
                ManifestGroup(
                    group_id=group_id,
                    members=[
                        ManifestMember(
                            document_number=m.document_number,
                            nationality=m.nationality,
                            surname=m.surname,
                            given_names=m.given_names,
                        )
                        for m in members
                    ],
                )
                for group_id, members in stored.groups
            ],
            submitted_at=stored.submitted_at,
            updated_at=stored.updated_at,
        )

    # --- lookup for the clearance service -----------------------------------------------------

    def find_cruise_passenger(
        self,
        document_number: str,
        nationality: str,
        arrival: datetime,
        ship_code: str | None = None,
        voyage: str | None = None,
    ) -> CruiseFacts | None:
        """The traveller's cruise facts, or ``None`` when no manifest lists them for this call.

        A manifest matches when its arrival is on the traveller's arrival day (CST) or within
        ``match_window`` of the traveller's arrival; ``ship_code`` / ``voyage`` (from the cruise
        card) narrow the search. Among several matches the closest arrival wins. The agency's
        licence is re-checked for the arrival day. Blocking.
        """
        if arrival.tzinfo is None:
            raise ValueError("arrival must be an aware datetime")
        try:
            code = normalize(nationality)
        except UnknownCountryError:
            return None
        day = cst_date(arrival)
        day_start = cst_midnight(day)
        # The arrival day and arrival +/- the window overlap: their union is one interval.
        window_from = min(day_start, arrival - self.match_window)
        window_to = max(day_start + timedelta(days=1), arrival + self.match_window)
        matches = self.manifests.find_member(
            _clean_document_number(document_number),
            code,
            window_from,
            window_to,
            ship_code=ship_code.strip().upper() if ship_code else None,
            voyage=voyage.strip().upper() if voyage else None,
        )
        if not matches:
            return None
        best: MemberMatch = min(matches, key=lambda m: abs(m.arrival - arrival))
        log.info(
            "cruise.passenger_found",
            manifest_id=str(best.manifest_id),
            candidates=len(matches),
        )
        return CruiseFacts(
            ship=best.ship_code,
            agency_licence=best.agency_licence,
            agency_licensed=self.agencies.is_licensed(best.agency_licence, day),
            group_size=best.group_size,
            on_manifest=True,
            ship_departs=best.departs_china,
            leaves_with_ship=best.departs_china > best.arrival,
        )

    async def afind_cruise_passenger(
        self,
        document_number: str,
        nationality: str,
        arrival: datetime,
        ship_code: str | None = None,
        voyage: str | None = None,
    ) -> CruiseFacts | None:
        """:meth:`find_cruise_passenger` in a worker thread, for async callers."""
        return await to_thread.run_sync(
            partial(
                self.find_cruise_passenger,
                document_number,
                nationality,
                arrival,
                ship_code=ship_code,
                voyage=voyage,
            )
        )


def open_cruise_service(
    store: RecordsStore, settings: CruiseSettings | None = None
) -> CruiseService:
    """Build the service for the app's lifespan: loads the agencies file once (raises
    ``ValueError`` if it is missing or invalid; the backend must not start without it)."""
    cfg = settings if settings is not None else CruiseSettings()
    agencies = load_agencies(cfg.cruise_agencies_file)
    log.info(
        "cruise.agencies_loaded",
        agencies=len(agencies),
        lead_time_h=cfg.cruise_manifest_lead_time_h,
    )
    return CruiseService(
        store,
        agencies,
        lead_time=timedelta(hours=cfg.cruise_manifest_lead_time_h),
        match_window=timedelta(hours=cfg.cruise_match_window_h),
    )
