"""Registry use cases: the clearance service's lookups, the feed's upserts, the demo seed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import structlog
import yaml
from pydantic import ValidationError

from backend.policy.case import ChineseVisa, RecordFlag
from backend.records.store import RecordsStore, RecordsUnavailableError
from backend.registries.models import (
    EntryReceipt,
    EntryStatus,
    RecordEntryIn,
    SeedFile,
    VisaEntryIn,
)
from backend.registries.settings import RegistrySettings
from backend.registries.store import RegistryStore, StoredVisa
from bordergate.countries import UnknownCountryError, normalize

log = structlog.get_logger(__name__)

VIOLATION_LOOKBACK_YEARS = 5
FLAG_ORDER: tuple[RecordFlag, ...] = ("barred", "visa-refusal", "violation-5y")


@dataclass(frozen=True, slots=True)
class SeedSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, status: EntryStatus) -> SeedSummary:
        return SeedSummary(
            created=self.created + (status == "created"),
            updated=self.updated + (status == "updated"),
            unchanged=self.unchanged + (status == "unchanged"),
        )


def _years_before(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February in a year without one
        return on.replace(year=on.year - years, day=28)


def _person(document_number: str, nationality: str) -> tuple[str, str] | None:
    try:
        code = normalize(nationality)
    except UnknownCountryError:
        return None
    return document_number.strip().upper().replace("<", ""), code


def _visa_rank(visa: StoredVisa, on: date) -> tuple[int, int]:
    """Lower is more relevant: valid with entries left, valid but used up, future, expired."""
    if visa.valid_from <= on <= visa.valid_until:
        category = 0 if visa.entries_left > 0 else 1
        return category, -visa.valid_until.toordinal()
    if visa.valid_from > on:
        return 2, visa.valid_from.toordinal()
    return 3, -visa.valid_until.toordinal()


def load_seed_file(path: Path) -> SeedFile:
    """Parse and validate a seed file (YAML, or JSON, which YAML reads too)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the seed file {path}: {exc}") from exc
    try:
        return SeedFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        # Positions and error types only: the values are identity data.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['type']}" for err in exc.errors()
        )
        raise ValueError(f"invalid seed file {path}: {problems}") from None


class Registries:
    """The visa and records registries over the records store. Every method is blocking."""

    def __init__(self, store: RecordsStore) -> None:
        self.store = RegistryStore(store)

    def find_visa(self, document_number: str, nationality: str, on: date) -> ChineseVisa | None:
        """The visa most relevant on ``on``, or ``None`` if the person has none on record.

        Preference: valid on that day with entries left (the longest-running first), valid but
        with no entries left, not yet valid (the soonest), expired (the latest). The policy
        engine judges the returned window and entries itself.
        """
        person = _person(document_number, nationality)
        if person is None:
            return None
        visas = self.store.visas_of(*person)
        if not visas:
            return None
        best = min(visas, key=lambda v: _visa_rank(v, on))
        return ChineseVisa(
            type=best.visa_type,
            valid_from=best.valid_from,
            valid_until=best.valid_until,
            entries_left=best.entries_left,
        )

    def record_flags(self, document_number: str, nationality: str, on: date) -> list[RecordFlag]:
        """The flags in force on ``on``, in a fixed order, each at most once.

        ``barred`` and ``visa-refusal`` are standing flags. ``violation-5y`` counts only when
        the violation is dated within the 5 years before ``on`` (from the same calendar day 5
        years earlier); one dated after ``on`` counts too, since a late-dated record must not
        let someone through.
        """
        person = _person(document_number, nationality)
        if person is None:
            return []
        since = _years_before(on, VIOLATION_LOOKBACK_YEARS)
        found: set[str] = set()
        for flag in self.store.flags_of(*person):
            if flag.flag == "violation-5y" and flag.flag_date < since:
                continue
            found.add(flag.flag)
        return [f for f in FLAG_ORDER if f in found]

    def add_visa(self, entry: VisaEntryIn) -> EntryReceipt:
        entry_id, status = self.store.upsert_visa(entry)
        log.info("registry.visa_stored", entry_id=entry_id, status=status)
        return EntryReceipt(entry_id=entry_id, status=status)

    def add_record(self, entry: RecordEntryIn) -> EntryReceipt:
        entry_id, status = self.store.upsert_record(entry)
        log.info("registry.record_stored", entry_id=entry_id, flag=entry.flag, status=status)
        return EntryReceipt(entry_id=entry_id, status=status)

    def load_seed(self, path: Path) -> SeedSummary:
        """Load a YAML/JSON file ``{visas: [...], records: [...]}``; loading it again changes
        nothing. Raises ``ValueError`` (before writing anything) if the file is invalid."""
        seed = load_seed_file(path)
        summary = SeedSummary()
        for visa in seed.visas:
            summary = summary.add(self.store.upsert_visa(visa)[1])
        for record in seed.records:
            summary = summary.add(self.store.upsert_record(record)[1])
        log.info(
            "registry.seed_loaded",
            visas=len(seed.visas),
            records=len(seed.records),
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
        return summary


def load_seed(store: RecordsStore, path: Path) -> SeedSummary:
    """:meth:`Registries.load_seed` for scripts and the demo."""
    return Registries(store).load_seed(path)


def open_registries(store: RecordsStore, settings: RegistrySettings | None = None) -> Registries:
    """Build the registries for the app's lifespan and load the configured seed file, if any.

    A seed file that is invalid stops the start (``ValueError``); a records store that is down
    only skips the seed (logged), like the schema creation.
    """
    cfg = settings if settings is not None else RegistrySettings()
    registries = Registries(store)
    if cfg.registry_seed_file is not None:
        try:
            registries.load_seed(cfg.registry_seed_file)
        except RecordsUnavailableError:
            log.error("registry.seed_deferred")
    return registries
