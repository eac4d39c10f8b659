"""The manifest as a travel agency submits it, and what the API answers.

Validation errors never carry the submitted values (document numbers, names): messages point at
positions (``groups[1].members[0]``) instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.cruise.agencies import LICENCE_PATTERN
from bordergate.countries import CHINA, REGIONS, UnknownCountryError, normalize

MAX_GROUPS = 200
MAX_MEMBERS = 5000
MIN_GROUP_SIZE = 2

# strict: no silent coercion (a number for a string); datetimes still parse from JSON text.
_Timestamp = Annotated[AwareDatetime, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Ship(_Strict):
    name: str = Field(min_length=1, max_length=64, examples=["Blue Dream Star"])
    code: str = Field(
        pattern=r"^[A-Z0-9]{2,16}$",
        description="Short ship code, as printed on the cruise card",
        examples=["BDSTAR"],
    )


class ManifestMember(_Strict):
    document_number: str = Field(pattern=r"^[A-Z0-9]{1,9}$", description="As in the MRZ")
    nationality: str = Field(description="ICAO code ('D' for Germany; DEU is accepted)")
    surname: str | None = Field(default=None, max_length=39)
    given_names: str | None = Field(default=None, max_length=39)

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        try:
            code = normalize(value)
        except UnknownCountryError as exc:
            raise ValueError(str(exc)) from None
        if code == CHINA or code in REGIONS:
            raise ValueError(
                f"{code} travellers are Chinese citizens or residents of Hong Kong, Macao or "
                "Taiwan, not foreign tourists: they cannot be on a cruise group visa-free manifest"
            )
        return code


class ManifestGroup(_Strict):
    group_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    # minItems documents the group-size rule the validator below enforces with its own message.
    members: list[ManifestMember] = Field(
        max_length=MAX_MEMBERS, json_schema_extra={"minItems": MIN_GROUP_SIZE}
    )

    @field_validator("members")
    @classmethod
    def _group_size(cls, value: list[ManifestMember]) -> list[ManifestMember]:
        if len(value) < MIN_GROUP_SIZE:
            raise ValueError(
                f"a cruise tour group needs at least {MIN_GROUP_SIZE} members (got {len(value)})"
            )
        return value


class ManifestIn(_Strict):
    """``POST /v1/manifests``: one agency's groups on one ship call."""

    ship: Ship
    voyage: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$", examples=["BD2507-03"])
    port: Literal["TSN-CRUISE"] = "TSN-CRUISE"
    arrival: _Timestamp = Field(description="Scheduled arrival at the port (with offset)")
    departs_china: _Timestamp = Field(
        description="When the ship leaves China (its last Chinese port); after arrival"
    )
    agency_licence: str = Field(pattern=LICENCE_PATTERN, examples=["L-TJ-CJ00001"])
    groups: list[ManifestGroup] = Field(min_length=1, max_length=MAX_GROUPS)

    @model_validator(mode="after")
    def _consistent(self) -> ManifestIn:
        if self.departs_china <= self.arrival:
            raise ValueError("departs_china must be after arrival")
        total = sum(len(g.members) for g in self.groups)
        if total > MAX_MEMBERS:
            raise ValueError(f"a manifest holds at most {MAX_MEMBERS} members (got {total})")
        seen_groups: set[str] = set()
        for gi, group in enumerate(self.groups):
            if group.group_id in seen_groups:
                raise ValueError(f"groups[{gi}]: group_id is used by an earlier group")
            seen_groups.add(group.group_id)
        first_seen: dict[str, str] = {}
        for gi, group in enumerate(self.groups):
            for mi, member in enumerate(group.members):
                where = f"groups[{gi}].members[{mi}]"
                earlier = first_seen.setdefault(member.document_number, where)
                if earlier != where:
                    raise ValueError(
                        f"{where}: the document number is already listed at {earlier}; a "
                        "traveller appears at most once per manifest"
                    )
        return self

    @property
    def member_count(self) -> int:
        return sum(len(g.members) for g in self.groups)

    def canonical(self) -> dict[str, object]:
        """The body with instants in UTC: equal for equal content, whatever the offsets."""
        data = self.model_dump(mode="json")
        data["arrival"] = self.arrival.astimezone(UTC).isoformat()
        data["departs_china"] = self.departs_china.astimezone(UTC).isoformat()
        return data


ManifestStatus = Literal["created", "unchanged", "amended"]


class ManifestReceipt(BaseModel):
    """The answer to a submission (no identity data)."""

    manifest_id: str
    version: int = Field(description="1 for the first submission, +1 per amendment")
    status: ManifestStatus
    ship_code: str
    voyage: str
    groups: int
    members: int


class ManifestView(BaseModel):
    """``GET /v1/manifests/{manifest_id}``: the stored manifest, current version."""

    manifest_id: str
    version: int
    ship: Ship
    voyage: str
    port: Literal["TSN-CRUISE"]
    arrival: datetime
    departs_china: datetime
    agency_licence: str
    groups: list[ManifestGroup]
    submitted_at: datetime
    updated_at: datetime
