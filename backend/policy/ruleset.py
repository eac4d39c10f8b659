"""Effective-dated policy rules: the YAML files in ``rules/``, their models and their validation.

One file per scheme and period (``type: scheme-period``), nationality lists with the date each
country joined (``type: nationality-list``) and the exclusions every foreign scheme shares
(``type: exclusions``). Every file names its ``source``. :func:`load_rules` reads a directory
once, validates each file and the files together, and raises :class:`RulesError` naming the file
on the first problem. A new period or country is a change to these files, not to the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from backend.policy.case import Port, RecordFlag
from backend.policy.clock import CST, cst_date, cst_midnight, stay_end, to_cst
from bordergate.countries import CHINA, ICAO_EXTRA_CODES, REGIONS, normalize

DEFAULT_RULES_DIR = Path(__file__).resolve().parent / "rules"

ForeignSchemeName = Literal["transit-72h", "transit-144h", "transit-240h", "cruise-15d"]
SchemeKind = Literal["transit", "cruise"]
Counting = Literal["from-next-midnight-cst"]

ANY_FOREIGN = "any-foreign"
"""``nationalities: any-foreign``: every state's nationals except China's, and not the regions
(HKG, MAC, TWN) nor ICAO's non-state codes (stateless, refugee, UN, specimen...): Germany ``D`` is
the one ICAO extra code that names a state."""

_SCHEME_SHAPE = re.compile(r"^(?P<kind>transit|cruise)-(?P<amount>\d+)(?P<unit>[hd])$")


class RulesError(ValueError):
    """A rule file (or the set of them) is invalid; the message names the file."""


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stay(_RuleModel):
    """The longest stay: exactly one of ``hours`` and ``days``."""

    hours: int | None = Field(default=None, gt=0)
    days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Stay:
        if (self.hours is None) == (self.days is None):
            raise ValueError("stay needs exactly one of 'hours' and 'days'")
        return self

    @property
    def label(self) -> str:
        return f"{self.hours} h" if self.hours is not None else f"{self.days} days"

    @property
    def duration(self) -> timedelta:
        return (
            timedelta(hours=self.hours)
            if self.hours is not None
            else timedelta(days=self.days or 0)
        )


class SchemePeriod(_RuleModel):
    """One scheme in force at some ports from ``valid_from`` (00:00 CST) until ``valid_until``.

    ``valid_until`` is exclusive (00:00 CST of that day) and ``None`` while the period is open.
    """

    type: Literal["scheme-period"]
    scheme: ForeignSchemeName
    kind: SchemeKind
    source: str = Field(min_length=1)
    valid_from: date
    valid_until: date | None = None
    ports: list[Port] = Field(min_length=1)
    stay: Stay
    counting: Counting
    area: list[str] = Field(min_length=1)
    nationalities: str = Field(
        min_length=1, description="a nationality list's name, or 'any-foreign'"
    )
    document_type_prefix: str = Field(default="P", min_length=1, max_length=1)
    excluded_document_types: list[str] = Field(default_factory=list)
    min_group_size: int | None = Field(default=None, ge=2)
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> SchemePeriod:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError(
                f"valid_until {self.valid_until} is not after valid_from {self.valid_from}"
            )
        if len(set(self.ports)) != len(self.ports):
            raise ValueError("a port is listed twice")
        shape = _SCHEME_SHAPE.match(self.scheme)
        if shape is None or shape["kind"] != self.kind:
            raise ValueError(f"scheme {self.scheme!r} is not of kind {self.kind!r}")
        amount = int(shape["amount"])
        expected = Stay(hours=amount) if shape["unit"] == "h" else Stay(days=amount)
        if self.stay.duration != expected.duration:
            raise ValueError(f"scheme {self.scheme!r} needs a stay of {expected.duration}")
        if self.kind == "cruise" and self.min_group_size is None:
            raise ValueError("a cruise scheme needs min_group_size")
        if self.kind == "transit" and self.min_group_size is not None:
            raise ValueError("min_group_size is for cruise schemes")
        return self

    @property
    def starts_at(self) -> datetime:
        return cst_midnight(self.valid_from)

    @property
    def ends_at(self) -> datetime | None:
        return None if self.valid_until is None else cst_midnight(self.valid_until)

    def in_force(self, at: datetime) -> bool:
        """Whether the period covers the instant ``at`` (at any of its ports)."""
        ends = self.ends_at
        return self.starts_at <= to_cst(at) and (ends is None or to_cst(at) < ends)

    def in_force_at(self, port: Port, at: datetime) -> bool:
        return port in self.ports and self.in_force(at)

    def permitted_until(self, arrival: datetime) -> datetime:
        """The instant a stay begun by arriving at ``arrival`` ends (exclusive), in CST."""
        return stay_end(arrival, self.stay.duration).astimezone(CST)

    def accepts_document(self, document_type: str) -> bool:
        kind = document_type.strip().upper().rstrip("<")
        excluded = {t.strip().upper() for t in self.excluded_document_types}
        return kind.startswith(self.document_type_prefix.upper()) and kind not in excluded

    def overlaps(self, other: SchemePeriod) -> bool:
        far = date.max
        return self.valid_from < (other.valid_until or far) and other.valid_from < (
            self.valid_until or far
        )


class NationalityMember(_RuleModel):
    code: str = Field(description="ICAO code as printed in the MRZ ('D' is Germany)")
    name: str = Field(min_length=1)
    joined: date
    left: date | None = Field(default=None, description="exclusive; None while a member")
    source: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _known_code(self) -> NationalityMember:
        canonical = normalize(self.code)  # UnknownCountryError is a ValueError
        if canonical != self.code:
            raise ValueError(f"write {self.code!r} as the ICAO code {canonical!r}")
        if canonical == CHINA or canonical in REGIONS:
            raise ValueError(f"{canonical!r} is China or a Chinese region, not a foreign state")
        if self.left is not None and self.left <= self.joined:
            raise ValueError(f"{self.code}: left {self.left} is not after joined {self.joined}")
        return self

    def member_on(self, day: date) -> bool:
        return self.joined <= day and (self.left is None or day < self.left)


class NationalityList(_RuleModel):
    type: Literal["nationality-list"]
    name: str = Field(min_length=1, pattern=r"^[a-z0-9-]+$")
    source: str = Field(min_length=1)
    members: list[NationalityMember] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> NationalityList:
        seen: set[str] = set()
        for member in self.members:
            if member.code in seen:
                raise ValueError(f"{member.code!r} is listed twice")
            seen.add(member.code)
        return self

    def eligible(self, code: str, day: date) -> bool:
        return any(m.code == code and m.member_on(day) for m in self.members)

    def members_on(self, day: date) -> list[str]:
        return [m.code for m in self.members if m.member_on(day)]


class Exclusions(_RuleModel):
    type: Literal["exclusions"]
    source: str = Field(min_length=1)
    min_document_validity_months: int = Field(ge=0, le=60)
    excluded_records: list[RecordFlag] = Field(min_length=1)


RuleFile = Annotated[SchemePeriod | NationalityList | Exclusions, Field(discriminator="type")]
_RULE_FILE: TypeAdapter[RuleFile] = TypeAdapter(RuleFile)


@dataclass(frozen=True)
class RuleSet:
    """Every rule file of a directory, validated together."""

    periods: tuple[SchemePeriod, ...]
    nationality_lists: dict[str, NationalityList]
    exclusions: Exclusions
    files: dict[int, str]  # id(model) -> file name, for messages and explanations

    def file_of(self, item: object) -> str:
        return self.files.get(id(item), "?")

    def nationality_eligible(self, period: SchemePeriod, code: str, at: datetime) -> bool:
        """Whether nationals of ``code`` (normalized) may use ``period`` on arrival at ``at``."""
        if period.nationalities == ANY_FOREIGN:
            return code == "D" or (
                code != CHINA and code not in REGIONS and code not in ICAO_EXTRA_CODES
            )
        return self.nationality_lists[period.nationalities].eligible(code, cst_date(at))


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if not isinstance(p, str) or p)
        parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
    return "; ".join(parts)


def _read(path: Path) -> RuleFile:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path.name}: cannot read the rules: {exc}") from exc
    if not isinstance(raw, dict):
        raise RulesError(f"{path.name}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        return _RULE_FILE.validate_python(raw)
    except ValidationError as exc:
        raise RulesError(f"{path.name}: {_describe(exc)}") from exc


def _rule_files(rules_dir: Path) -> Iterable[Path]:
    if not rules_dir.is_dir():
        raise RulesError(f"{rules_dir}: no such rules directory")
    return sorted(p for p in rules_dir.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_rules(rules_dir: Path = DEFAULT_RULES_DIR) -> RuleSet:
    """Read and validate every ``*.yaml`` file of ``rules_dir``; raises :class:`RulesError`."""
    periods: list[SchemePeriod] = []
    lists: dict[str, NationalityList] = {}
    exclusions: list[Exclusions] = []
    files: dict[int, str] = {}
    for path in _rule_files(rules_dir):
        item = _read(path)
        files[id(item)] = path.name
        if isinstance(item, SchemePeriod):
            periods.append(item)
        elif isinstance(item, NationalityList):
            if item.name in lists:
                other = files[id(lists[item.name])]
                raise RulesError(f"{path.name}: nationality list {item.name!r} is also in {other}")
            lists[item.name] = item
        else:
            exclusions.append(item)

    if len(exclusions) != 1:
        names = ", ".join(files[id(e)] for e in exclusions) or "none"
        raise RulesError(f"{rules_dir}: expected exactly one exclusions file, found {names}")
    for period in periods:
        if period.nationalities != ANY_FOREIGN and period.nationalities not in lists:
            raise RulesError(
                f"{files[id(period)]}: no nationality list named {period.nationalities!r}"
            )
    for i, first in enumerate(periods):
        for second in periods[i + 1 :]:
            shared = sorted(set(first.ports) & set(second.ports))
            if first.kind == second.kind and shared and first.overlaps(second):
                raise RulesError(
                    f"{files[id(second)]}: {second.scheme} overlaps {first.scheme} in "
                    f"{files[id(first)]} at {', '.join(shared)} (one {first.kind} scheme per "
                    "port at a time)"
                )
    periods.sort(key=lambda p: (p.valid_from, p.scheme))
    return RuleSet(tuple(periods), lists, exclusions[0], files)
