"""Registry entries at the boundary (the feed endpoints and the seed file)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.policy.case import RecordFlag
from bordergate.countries import UnknownCountryError, normalize

_Day = Annotated[date, Field(strict=False)]  # ISO text in JSON, a date in YAML


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Person(_Strict):
    document_number: str = Field(pattern=r"^[A-Z0-9]{1,9}$", description="As in the MRZ")
    nationality: str = Field(description="ICAO code ('D' for Germany; DEU is accepted)")

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        try:
            return normalize(value)
        except UnknownCountryError as exc:
            raise ValueError(str(exc)) from None


class VisaEntryIn(_Person):
    """A Chinese visa; (document, nationality, type, valid_from) identifies it."""

    type: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,3}$", examples=["L", "M", "Q2"])
    valid_from: _Day
    valid_until: _Day
    entries_left: int = Field(ge=0, le=99, description="0 once a single-entry visa is used")
    source: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _window(self) -> VisaEntryIn:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


class RecordEntryIn(_Person):
    """A flag on a person's record; (document, nationality, flag, date) identifies it."""

    flag: RecordFlag
    date: _Day = Field(description="When barred, refused or when the violation happened")
    source: str = Field(min_length=1, max_length=200, description="Who reported it, reference")


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visas: list[VisaEntryIn] = Field(default_factory=list)
    records: list[RecordEntryIn] = Field(default_factory=list)


EntryStatus = Literal["created", "updated", "unchanged"]


class EntryReceipt(BaseModel):
    entry_id: int
    status: EntryStatus
