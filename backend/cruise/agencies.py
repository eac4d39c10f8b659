"""The registry of licensed travel agencies, shipped as data and loaded once at start."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LICENCE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,31}$"


class AgencyStatus(StrEnum):
    LICENSED = "licensed"
    UNKNOWN = "unknown"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Agency(BaseModel):
    """One licence (dates inclusive, China Standard Time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    licence: str = Field(pattern=LICENCE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    valid_from: date
    valid_until: date
    revoked: bool = False

    @model_validator(mode="after")
    def _window(self) -> Agency:
        if self.valid_until < self.valid_from:
            raise ValueError(f"licence {self.licence}: valid_until is before valid_from")
        return self


class _AgenciesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[Agency]


class AgencyRegistry:
    """Immutable lookup of licences; :meth:`status` answers for one licence on one day."""

    def __init__(self, agencies: Iterable[Agency]) -> None:
        by_licence: dict[str, Agency] = {}
        for agency in agencies:
            if agency.licence in by_licence:
                raise ValueError(f"licence {agency.licence} is listed twice")
            by_licence[agency.licence] = agency
        self._by_licence = by_licence

    def __len__(self) -> int:
        return len(self._by_licence)

    def get(self, licence: str) -> Agency | None:
        return self._by_licence.get(licence.strip().upper())

    def status(self, licence: str, on: date) -> AgencyStatus:
        agency = self.get(licence)
        if agency is None:
            return AgencyStatus.UNKNOWN
        if agency.revoked:
            return AgencyStatus.REVOKED
        if on < agency.valid_from:
            return AgencyStatus.NOT_YET_VALID
        if on > agency.valid_until:
            return AgencyStatus.EXPIRED
        return AgencyStatus.LICENSED

    def is_licensed(self, licence: str, on: date) -> bool:
        return self.status(licence, on) is AgencyStatus.LICENSED


def load_agencies(path: Path) -> AgencyRegistry:
    """Read and validate the agencies file; raises ``ValueError`` with the reason if invalid."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the agencies file {path}: {exc}") from exc
    except RecursionError:
        raise ValueError(f"cannot read the agencies file {path}: nested too deeply") from None
    try:
        parsed = _AgenciesFile.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"invalid agencies file {path}: {exc}") from exc
    return AgencyRegistry(parsed.agencies)
