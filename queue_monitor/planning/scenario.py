"""Scenario files: a hall, its lanes, service times and the arrival schedule (the forecast).

A scenario is JSON or YAML with exactly these fields (unknown or missing fields are an error
naming the field)::

    name, hall ("airport" | "cruise"), start (ISO 8601 with offset), hours, seed,
    lanes {egate, officer}            installed e-gates / officer desks (= officers on duty),
    initially_open {egate, officer},
    service_s {egate {mean, cv}, officer {mean, cv}},
    egate_share                       share of travellers eligible for the e-gates,
    egate_fallback_share              share of those who, after trying a gate, see an officer,
    open_delay_min, min_open_min      a lane is ready this long after the command / stays open
                                      at least this long once ready,
    forecast_error                    each wave's actual count is its forecast times a factor
                                      drawn uniformly in [1 - e, 1 + e] (seeded),
    arrivals [{at, passengers, profile ("flight" | "ship"), over_min}],
    actual_factor (optional, default 1) every wave's actual count is further multiplied by this:
                                      1.2 models a day when arrivals run 20% above forecast.

``passengers`` is the forecast; the simulator draws the actual numbers. Waves must start within
``[start, start + hours)``.
"""

from __future__ import annotations

import json
from datetime import MAXYEAR, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bordergate.contracts import Hall

LaneType = Literal["egate", "officer"]
LANE_TYPES: tuple[LaneType, LaneType] = ("egate", "officer")

NonNegInt = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LaneCounts(_Strict):
    egate: NonNegInt
    officer: NonNegInt

    def of(self, lane_type: LaneType) -> int:
        return self.egate if lane_type == "egate" else self.officer


class ServiceTime(_Strict):
    """Mean and coefficient of variation of a service time (gamma distributed)."""

    mean: Annotated[float, Field(gt=0.0, le=3600.0)]
    cv: Annotated[float, Field(ge=0.0, le=3.0)]


class ServiceTimes(_Strict):
    egate: ServiceTime
    officer: ServiceTime

    def of(self, lane_type: LaneType) -> ServiceTime:
        return self.egate if lane_type == "egate" else self.officer


class ArrivalWave(_Strict):
    """One flight (on-block time) or ship (first passenger ashore) and its forecast count."""

    at: AwareDatetime
    passengers: NonNegInt
    profile: Literal["flight", "ship"]
    over_min: Annotated[float, Field(gt=0.0, le=24 * 60)]


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1)]
    hall: Hall
    start: AwareDatetime
    hours: Annotated[float, Field(gt=0.0, le=48.0)]
    seed: int
    lanes: LaneCounts
    initially_open: LaneCounts
    service_s: ServiceTimes
    egate_share: Share
    egate_fallback_share: Share
    open_delay_min: Annotated[float, Field(ge=0.0, le=240.0)]
    min_open_min: Annotated[float, Field(ge=0.0, le=24 * 60)]
    forecast_error: Annotated[float, Field(ge=0.0, lt=1.0)]
    arrivals: list[ArrivalWave]
    actual_factor: Annotated[float, Field(gt=0.0, le=5.0)] = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for lane_type in LANE_TYPES:
            if self.initially_open.of(lane_type) > self.lanes.of(lane_type):
                raise ValueError(
                    f"initially_open.{lane_type} ({self.initially_open.of(lane_type)}) exceeds "
                    f"lanes.{lane_type} ({self.lanes.of(lane_type)})"
                )
        try:
            end = self.end
        except OverflowError:  # a start at the calendar's end: not a ValueError by itself
            raise ValueError(f"start + hours is past the end of the calendar ({MAXYEAR})") from None
        for i, wave in enumerate(self.arrivals):
            if not self.start <= wave.at < end:
                raise ValueError(
                    f"arrivals.{i}.at ({wave.at.isoformat()}) is outside the scenario "
                    f"[{self.start.isoformat()}, {end.isoformat()})"
                )
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)

    def minutes_after_start(self, at: datetime) -> float:
        return (at - self.start).total_seconds() / 60.0


class ScenarioError(ValueError):
    """A scenario that cannot be read or is invalid; the message names the field."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "scenario"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "missing field"
        problems.append(f"{loc}: {msg}")
    return "; ".join(problems)


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate already-parsed data; ``ScenarioError`` naming each bad field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected an object with the scenario fields")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {describe_validation_error(exc)}") from None


SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
SUFFIXES = (".json", ".yaml", ".yml")


def shipped_scenarios() -> list[Path]:
    """The scenario files shipped in the repository's ``scenarios/`` directory."""
    if not SCENARIO_DIR.is_dir():
        return []
    return sorted(p for p in SCENARIO_DIR.iterdir() if p.suffix in SUFFIXES)


def resolve_scenario_path(name_or_path: str) -> Path:
    """A path as given, or the shipped scenario of that name (``cruise-4000``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    for suffix in SUFFIXES:
        candidate = SCENARIO_DIR / f"{name_or_path}{suffix}"
        if candidate.exists():
            return candidate
    names = ", ".join(p.stem for p in shipped_scenarios())
    raise ScenarioError(f"no scenario file {name_or_path!r} (shipped: {names})")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a JSON or YAML scenario file (or a shipped scenario's name)."""
    path = resolve_scenario_path(str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: not valid {path.suffix.lstrip('.')}: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nested too deeply to be a scenario") from None
    return parse_scenario(data, str(path))
