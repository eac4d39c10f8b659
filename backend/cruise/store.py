"""Manifest persistence in the records store (tables ``cruise_manifests`` and
``cruise_manifest_members``). Blocking, like :class:`RecordsStore`: call from a worker thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.records.store import RecordsStore, guarded
from backend.records.tables import CruiseManifestMember, CruiseManifestRow


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One member of a group on a manifest, as submitted and as stored."""

    group_id: str
    document_number: str
    nationality: str
    surname: str | None
    given_names: str | None


@dataclass(frozen=True, slots=True)
class NewManifest:
    ship_code: str
    ship_name: str
    voyage: str
    agency_licence: str
    port: str
    arrival: datetime
    departs_china: datetime
    body_hash: str
    groups: list[tuple[str, list[MemberRecord]]]
    submitted_at: datetime

    @property
    def member_count(self) -> int:
        return sum(len(members) for _, members in self.groups)


@dataclass(frozen=True, slots=True)
class ManifestHead:
    manifest_id: uuid.UUID
    version: int
    body_hash: str


@dataclass(frozen=True, slots=True)
class SaveResult:
    manifest_id: uuid.UUID
    version: int
    status: Literal["created", "unchanged", "amended"]


@dataclass(frozen=True, slots=True)
class StoredManifest:
    manifest_id: uuid.UUID
    version: int
    ship_code: str
    ship_name: str
    voyage: str
    agency_licence: str
    port: str
    arrival: datetime
    departs_china: datetime
    submitted_at: datetime
    updated_at: datetime
    groups: list[tuple[str, list[MemberRecord]]]


@dataclass(frozen=True, slots=True)
class MemberMatch:
    """A traveller found on a manifest: the manifest's facts and their group's size."""

    manifest_id: uuid.UUID
    ship_code: str
    ship_name: str
    voyage: str
    agency_licence: str
    arrival: datetime
    departs_china: datetime
    group_id: str
    group_size: int


class ConflictingMembersError(Exception):
    """Travellers of this manifest are already on another agency's manifest for the voyage."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} traveller(s) of this manifest are already on another agency's manifest "
            "for the same ship and voyage"
        )
        self.count = count


class ManifestStore:
    def __init__(self, records: RecordsStore) -> None:
        self._records = records

    @guarded
    def find_head(self, ship_code: str, voyage: str, agency_licence: str) -> ManifestHead | None:
        with self._records.session() as session:
            row = _by_key(session, ship_code, voyage, agency_licence)
            return None if row is None else _head(row)

    @guarded
    def save(self, manifest: NewManifest) -> SaveResult:
        """Insert, replay (identical hash) or amend (replace members, version + 1), atomically.

        Raises :class:`ConflictingMembersError` (nothing written) when a traveller is already on
        another manifest for the same ship and voyage.
        """
        try:
            return self._save_once(manifest)
        except IntegrityError:
            # A concurrent first submission of the same key won the insert: decide again.
            return self._save_once(manifest)

    def _save_once(self, manifest: NewManifest) -> SaveResult:
        with self._records.session() as session, session.begin():
            row = _by_key(
                session, manifest.ship_code, manifest.voyage, manifest.agency_licence, lock=True
            )
            if row is not None and row.body_hash == manifest.body_hash:
                return SaveResult(row.manifest_id, row.version, "unchanged")
            _check_other_manifests(session, manifest, None if row is None else row.manifest_id)
            if row is None:
                row = CruiseManifestRow(
                    manifest_id=uuid.uuid4(),
                    ship_code=manifest.ship_code,
                    voyage=manifest.voyage,
                    agency_licence=manifest.agency_licence,
                    version=1,
                    submitted_at=manifest.submitted_at,
                )
                status: Literal["created", "amended"] = "created"
                _fill(row, manifest)
                session.add(row)
                session.flush()  # a concurrent insert of the same key fails here
            else:
                status = "amended"
                session.execute(
                    delete(CruiseManifestMember).where(
                        CruiseManifestMember.manifest_id == row.manifest_id
                    )
                )
                row.version += 1
                _fill(row, manifest)
            for group_id, members in manifest.groups:
                for position, member in enumerate(members):
                    session.add(
                        CruiseManifestMember(
                            manifest_id=row.manifest_id,
                            group_id=group_id,
                            group_size=len(members),
                            position=position,
                            document_number=member.document_number,
                            nationality=member.nationality,
                            surname=member.surname,
                            given_names=member.given_names,
                        )
                    )
            session.flush()
            return SaveResult(row.manifest_id, row.version, status)

    @guarded
    def get(self, manifest_id: uuid.UUID) -> StoredManifest | None:
        with self._records.session() as session:
            row = session.get(CruiseManifestRow, manifest_id)
            if row is None:
                return None
            members = session.execute(
                select(CruiseManifestMember)
                .where(CruiseManifestMember.manifest_id == manifest_id)
                .order_by(CruiseManifestMember.id)
            ).scalars()
            groups: dict[str, list[MemberRecord]] = {}
            for m in members:
                groups.setdefault(m.group_id, []).append(
                    MemberRecord(
                        group_id=m.group_id,
                        document_number=m.document_number,
                        nationality=m.nationality,
                        surname=m.surname,
                        given_names=m.given_names,
                    )
                )
            return StoredManifest(
                manifest_id=row.manifest_id,
                version=row.version,
                ship_code=row.ship_code,
                ship_name=row.ship_name,
                voyage=row.voyage,
                agency_licence=row.agency_licence,
                port=row.port,
                arrival=row.arrival,
                departs_china=row.departs_china,
                submitted_at=row.submitted_at,
                updated_at=row.updated_at,
                groups=list(groups.items()),
            )

    @guarded
    def find_member(
        self,
        document_number: str,
        nationality: str,
        arrival_from: datetime,
        arrival_to: datetime,
        *,
        ship_code: str | None = None,
        voyage: str | None = None,
    ) -> list[MemberMatch]:
        """Manifests listing the traveller whose arrival lies in ``[arrival_from, arrival_to]``."""
        query = (
            select(CruiseManifestMember, CruiseManifestRow)
            .join(
                CruiseManifestRow,
                CruiseManifestRow.manifest_id == CruiseManifestMember.manifest_id,
            )
            .where(
                CruiseManifestMember.document_number == document_number,
                CruiseManifestMember.nationality == nationality,
                CruiseManifestRow.arrival >= arrival_from,
                CruiseManifestRow.arrival <= arrival_to,
            )
        )
        if ship_code is not None:
            query = query.where(CruiseManifestRow.ship_code == ship_code)
        if voyage is not None:
            query = query.where(CruiseManifestRow.voyage == voyage)
        with self._records.session() as session:
            return [
                MemberMatch(
                    manifest_id=row.manifest_id,
                    ship_code=row.ship_code,
                    ship_name=row.ship_name,
                    voyage=row.voyage,
                    agency_licence=row.agency_licence,
                    arrival=row.arrival,
                    departs_china=row.departs_china,
                    group_id=member.group_id,
                    group_size=member.group_size,
                )
                for member, row in session.execute(query)
            ]


def _by_key(
    session: Session, ship_code: str, voyage: str, agency_licence: str, *, lock: bool = False
) -> CruiseManifestRow | None:
    """The manifest of this key; ``lock`` serialises concurrent amendments (PostgreSQL row lock;
    SQLite serialises writers anyway)."""
    query = select(CruiseManifestRow).where(
        CruiseManifestRow.ship_code == ship_code,
        CruiseManifestRow.voyage == voyage,
        CruiseManifestRow.agency_licence == agency_licence,
    )
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def _head(row: CruiseManifestRow) -> ManifestHead:
    return ManifestHead(row.manifest_id, row.version, row.body_hash)


def _fill(row: CruiseManifestRow, manifest: NewManifest) -> None:
    row.ship_name = manifest.ship_name
    row.port = manifest.port
    row.arrival = manifest.arrival
    row.departs_china = manifest.departs_china
    row.body_hash = manifest.body_hash
    row.group_count = len(manifest.groups)
    row.member_count = manifest.member_count
    row.updated_at = manifest.submitted_at


def _check_other_manifests(
    session: Session, manifest: NewManifest, own_id: uuid.UUID | None
) -> None:
    query = (
        select(CruiseManifestMember.document_number, CruiseManifestMember.nationality)
        .join(
            CruiseManifestRow,
            CruiseManifestRow.manifest_id == CruiseManifestMember.manifest_id,
        )
        .where(
            CruiseManifestRow.ship_code == manifest.ship_code,
            CruiseManifestRow.voyage == manifest.voyage,
        )
    )
    if own_id is not None:
        query = query.where(CruiseManifestRow.manifest_id != own_id)
    others = {(d, n) for d, n in session.execute(query)}
    if not others:
        return
    ours = {(m.document_number, m.nationality) for _, members in manifest.groups for m in members}
    clash = len(ours & others)
    if clash:
        raise ConflictingMembersError(clash)
