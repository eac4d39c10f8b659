"""One traveller's case for the policy engine, and its answer.

These models are the contract of ``bordergate policy check CASE.json --json`` (used by outside
checks: keep the field names and shapes exactly) and what the clearance service builds from a
kiosk's request plus the registries (visas, records, flights, cruise manifests).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.policy.clock import CST
from bordergate.contracts import ReasonCode

Port = Literal["TSN-AIRPORT", "TSN-CRUISE"]
SchemeName = Literal["citizen", "visa", "transit-72h", "transit-144h", "transit-240h", "cruise-15d"]
RecordFlag = Literal["barred", "visa-refusal", "violation-5y"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChineseVisa(_Strict):
    type: str = Field(min_length=1, max_length=4, examples=["L", "M", "Q2"])
    valid_from: date
    valid_until: date
    entries_left: int = Field(ge=0)


class TravellerFacts(_Strict):
    nationality: str = Field(description="ICAO code as printed in the MRZ ('D' is Germany)")
    document_type: str = Field(min_length=1, max_length=2)
    document_expiry: date
    chinese_visa: ChineseVisa | None = None
    record: list[RecordFlag] = Field(default_factory=list)


class JourneyFacts(_Strict):
    arrived_from: str = Field(description="ICAO/ISO alpha-3 country or region code")
    onward_to: str
    onward_departure: AwareDatetime
    onward_confirmed: bool


class CruiseFacts(_Strict):
    ship: str
    agency_licence: str
    agency_licensed: bool
    group_size: int = Field(ge=0)
    on_manifest: bool
    ship_departs: AwareDatetime
    leaves_with_ship: bool


class PolicyCase(_Strict):
    port: Port
    arrival: AwareDatetime
    traveller: TravellerFacts
    journey: JourneyFacts | None = None
    cruise: CruiseFacts | None = None


class PolicyDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Literal["admit", "refer"]
    scheme: SchemeName | None
    permitted_until: AwareDatetime | None = Field(
        description="End of the permitted stay (exclusive), in China Standard Time (+08:00)"
    )
    reasons: list[ReasonCode] = Field(description="Stable reason identifiers; empty on admit")

    @field_validator("permitted_until")
    @classmethod
    def _in_china_standard_time(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(CST)

    @model_validator(mode="after")
    def _reasons_match_decision(self) -> PolicyDecision:
        if self.decision == "admit" and self.reasons:
            raise ValueError("an admit has no reasons")
        if self.decision == "refer" and not self.reasons:
            raise ValueError("a refer needs at least one reason")
        return self
