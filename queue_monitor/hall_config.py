"""Each hall's configuration for the lane controller: installed lanes, staff, service times.

The monitors' settings carry one ``HallConfig`` per hall (``BORDERGATE_MONITOR_HALLS``, JSON;
a hall or a field left out keeps its Tianjin default below). At run time a manager's console may
write a JSON object at ``hall_config_key(hall)``: its fields are merged over the settings' ones
and the result validated; an invalid override is logged and ignored (the settings' config holds).

Tianjin defaults (DESIGN.md section 3 for the service times, the shipped scenarios for shares
and delays): the airport has 12 e-gates, 24 officer desks and 16 officers on duty; the cruise
terminal 10 e-gates, 20 desks and 14 officers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from redis.asyncio import Redis

from bordergate.contracts import Hall, LaneType, hall_config_key
from queue_monitor.planning.controller import HallParameters

log = structlog.get_logger("queue_monitor.hall_config")

Count = Annotated[int, Field(ge=0, le=500)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(gt=0.0, le=3600.0)]


class HallConfig(BaseModel):
    """What the lane controller needs to know about one hall."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    egates_installed: Count
    officer_desks: Count
    officers_on_duty: Count
    initially_open_egates: Count
    initially_open_officer: Count
    egate_service_s: Seconds = 20.0
    officer_service_s: Seconds = 75.0
    referral_service_s: Seconds = 240.0
    egate_share: Share = Field(
        default=0.5, description="E-gate-eligible share when the schedule does not say"
    )
    egate_fallback_share: Share = Field(
        default=0.06, description="Share of e-gate travellers who end up at an officer desk"
    )
    open_delay_min: Annotated[float, Field(ge=0.0, le=240.0)] = 5.0
    min_open_min: Annotated[float, Field(ge=0.0, le=24 * 60)] = 30.0
    flight_over_min: Annotated[float, Field(gt=0.0, le=240.0)] = Field(
        default=25.0, description="A flight's passengers reach the hall over this many minutes"
    )
    ship_disembark_per_min: Annotated[float, Field(gt=0.0, le=500.0)] = Field(
        default=30.0, description="A ship's disembarkation rate when its schedule entry has none"
    )

    @model_validator(mode="after")
    def _consistent(self) -> HallConfig:
        if self.initially_open_egates > self.egates_installed:
            raise ValueError("initially_open_egates exceeds egates_installed")
        if self.initially_open_officer > min(self.officer_desks, self.officers_on_duty):
            raise ValueError("initially_open_officer exceeds the officer desks or officers on duty")
        return self

    def installed(self, lane_type: LaneType) -> int:
        return self.egates_installed if lane_type == "egate" else self.officer_desks

    def initially_open(self, lane_type: LaneType) -> int:
        return self.initially_open_egates if lane_type == "egate" else self.initially_open_officer

    def lane_ids(self, lane_type: LaneType) -> list[str]:
        """``egate-01``, ``egate-02``, ... / ``officer-01``, ...: the installed lanes' ids."""
        return [f"{lane_type}-{i:02d}" for i in range(1, self.installed(lane_type) + 1)]

    def closing_grace_s(self, lane_type: LaneType) -> float:
        """How long a closing lane takes to finish its last traveller (then it is closed)."""
        return self.egate_service_s if lane_type == "egate" else self.referral_service_s

    def parameters(self, egate_share: float | None = None) -> HallParameters:
        return HallParameters(
            egate_service_s=self.egate_service_s,
            officer_service_s=self.officer_service_s,
            referral_service_s=self.referral_service_s,
            egate_share=self.egate_share if egate_share is None else egate_share,
            egate_fallback_share=self.egate_fallback_share,
            open_delay_min=self.open_delay_min,
            min_open_min=self.min_open_min,
        )


DEFAULT_HALLS: dict[Hall, HallConfig] = {
    Hall.AIRPORT: HallConfig(
        egates_installed=12,
        officer_desks=24,
        officers_on_duty=16,
        initially_open_egates=12,
        initially_open_officer=3,
        egate_service_s=20.0,
        officer_service_s=75.0,
        egate_share=0.45,
        egate_fallback_share=0.06,
    ),
    Hall.CRUISE: HallConfig(
        egates_installed=10,
        officer_desks=20,
        officers_on_duty=14,
        initially_open_egates=10,
        initially_open_officer=4,
        egate_service_s=25.0,
        officer_service_s=90.0,
        egate_share=0.55,
        egate_fallback_share=0.05,
    ),
}


def merge_config(base: HallConfig, override: dict[str, Any]) -> HallConfig:
    """``base`` with the fields of ``override`` (validated; raises ``ValidationError``)."""
    return HallConfig.model_validate({**base.model_dump(), **override})


def complete_halls(value: Any) -> dict[Hall, HallConfig]:
    """Every hall's config: the given ones (whole or partial objects) over the defaults."""
    if isinstance(value, str):
        value = json.loads(value)
    given: dict[Any, Any] = dict(value or {})
    out: dict[Hall, HallConfig] = {}
    for hall in Hall:
        raw = given.pop(hall, given.pop(hall.value, None))
        if raw is None:
            out[hall] = DEFAULT_HALLS[hall]
        elif isinstance(raw, HallConfig):
            out[hall] = raw
        else:
            out[hall] = merge_config(DEFAULT_HALLS[hall], dict(raw))
    if given:
        raise ValueError(f"unknown hall(s): {', '.join(sorted(map(str, given)))}")
    return out


async def effective_config(redis: Redis, hall: Hall, base: HallConfig) -> HallConfig:
    """``base`` merged with the run-time override at ``hall_config_key(hall)``, if any and
    valid. Redis errors propagate."""
    raw: str | bytes | None = await redis.get(hall_config_key(hall))
    if raw is None:
        return base
    try:
        override = json.loads(raw)
        if not isinstance(override, dict):
            raise ValueError("expected a JSON object")
        return merge_config(base, override)
    except (ValueError, ValidationError) as exc:
        log.warning("hall_config_override_invalid", hall=str(hall), error=str(exc)[:500])
        return base
