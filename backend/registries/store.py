"""Registry persistence in the records store (``registry_visas``, ``registry_records``).
Blocking, like :class:`RecordsStore`: call from a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.records.store import RecordsStore, guarded
from backend.records.tables import RecordRegistryEntry, VisaRegistryEntry
from backend.registries.models import EntryStatus, RecordEntryIn, VisaEntryIn


@dataclass(frozen=True, slots=True)
class StoredVisa:
    visa_type: str
    valid_from: date
    valid_until: date
    entries_left: int


@dataclass(frozen=True, slots=True)
class StoredFlag:
    flag: str
    flag_date: date


class RegistryStore:
    def __init__(self, records: RecordsStore) -> None:
        self._records = records

    @guarded
    def upsert_visa(self, entry: VisaEntryIn) -> tuple[int, EntryStatus]:
        try:
            return self._upsert_visa(entry)
        except IntegrityError:  # a concurrent insert of the same key: it is an update now
            return self._upsert_visa(entry)

    def _upsert_visa(self, entry: VisaEntryIn) -> tuple[int, EntryStatus]:
        with self._records.session() as session, session.begin():
            row = session.execute(
                select(VisaRegistryEntry).where(
                    VisaRegistryEntry.document_number == entry.document_number,
                    VisaRegistryEntry.nationality == entry.nationality,
                    VisaRegistryEntry.visa_type == entry.type,
                    VisaRegistryEntry.valid_from == entry.valid_from,
                )
            ).scalar_one_or_none()
            if row is None:
                row = VisaRegistryEntry(
                    document_number=entry.document_number,
                    nationality=entry.nationality,
                    visa_type=entry.type,
                    valid_from=entry.valid_from,
                    valid_until=entry.valid_until,
                    entries_left=entry.entries_left,
                    source=entry.source,
                    updated_at=datetime.now(UTC),
                )
                session.add(row)
                session.flush()
                return row.id, "created"
            current = (row.valid_until, row.entries_left, row.source)
            if current == (entry.valid_until, entry.entries_left, entry.source):
                return row.id, "unchanged"
            row.valid_until = entry.valid_until
            row.entries_left = entry.entries_left
            row.source = entry.source
            row.updated_at = datetime.now(UTC)
            return row.id, "updated"

    @guarded
    def upsert_record(self, entry: RecordEntryIn) -> tuple[int, EntryStatus]:
        try:
            return self._upsert_record(entry)
        except IntegrityError:
            return self._upsert_record(entry)

    def _upsert_record(self, entry: RecordEntryIn) -> tuple[int, EntryStatus]:
        with self._records.session() as session, session.begin():
            row = session.execute(
                select(RecordRegistryEntry).where(
                    RecordRegistryEntry.document_number == entry.document_number,
                    RecordRegistryEntry.nationality == entry.nationality,
                    RecordRegistryEntry.flag == entry.flag,
                    RecordRegistryEntry.flag_date == entry.date,
                )
            ).scalar_one_or_none()
            if row is None:
                row = RecordRegistryEntry(
                    document_number=entry.document_number,
                    nationality=entry.nationality,
                    flag=entry.flag,
                    flag_date=entry.date,
                    source=entry.source,
                    updated_at=datetime.now(UTC),
                )
                session.add(row)
                session.flush()
                return row.id, "created"
            if row.source == entry.source:
                return row.id, "unchanged"
            row.source = entry.source
            row.updated_at = datetime.now(UTC)
            return row.id, "updated"

    @guarded
    def visas_of(self, document_number: str, nationality: str) -> list[StoredVisa]:
        with self._records.session() as session:
            return [
                StoredVisa(r.visa_type, r.valid_from, r.valid_until, r.entries_left)
                for r in session.execute(
                    select(VisaRegistryEntry).where(
                        VisaRegistryEntry.document_number == document_number,
                        VisaRegistryEntry.nationality == nationality,
                    )
                ).scalars()
            ]

    @guarded
    def flags_of(self, document_number: str, nationality: str) -> list[StoredFlag]:
        with self._records.session() as session:
            return [
                StoredFlag(r.flag, r.flag_date)
                for r in session.execute(
                    select(RecordRegistryEntry).where(
                        RecordRegistryEntry.document_number == document_number,
                        RecordRegistryEntry.nationality == nationality,
                    )
                ).scalars()
            ]
