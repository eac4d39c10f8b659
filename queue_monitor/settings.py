"""Settings of the queue monitor, read from ``BORDERGATE_MONITOR_*`` environment variables.

The shared settings keep their shared names: ``REDIS_URL`` / ``BORDERGATE_REDIS_URL`` and
``BORDERGATE_LOG_LEVEL`` / ``BORDERGATE_LOG_JSON`` (the ``BORDERGATE_MONITOR_`` spellings win).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from bordergate.contracts import Hall
from bordergate.settings import CommonSettings
from queue_monitor.hall_config import DEFAULT_HALLS, HallConfig, complete_halls


def default_consumer_name() -> str:
    """``<host>-<pid>``: unique per process, stable for the life of the process."""
    return f"{socket.gethostname()}-{os.getpid()}"


class MonitorSettings(CommonSettings):
    """Tuning of one queue-monitor process. Several may run side by side sharing the group."""

    model_config = SettingsConfigDict(
        env_prefix="BORDERGATE_MONITOR_", extra="ignore", populate_by_name=True
    )

    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices("BORDERGATE_MONITOR_LOG_LEVEL", "BORDERGATE_LOG_LEVEL"),
    )
    log_json: bool = Field(
        default=True,
        validation_alias=AliasChoices("BORDERGATE_MONITOR_LOG_JSON", "BORDERGATE_LOG_JSON"),
    )

    consumer_name: str = Field(
        default_factory=default_consumer_name,
        min_length=1,
        description="This monitor's name in the consumer group; must differ between monitors.",
    )
    target_wait_s: float = Field(
        default=1500.0, gt=0, description="Wait target: 95% of travellers within 25 minutes."
    )
    window_s: float = Field(
        default=3600.0, gt=0, description="Rolling window of wait samples behind the statistics."
    )
    window_clock: Literal["event", "wall"] = Field(
        default="event",
        description=(
            "'event': the window ends at the newest served time seen in the hall, so a replay or "
            "a simulation measures itself; 'wall': the window ends now."
        ),
    )
    stats_interval_s: float = Field(
        default=1.0, gt=0, description="How often statistics and the heartbeat are published."
    )
    block_ms: int = Field(
        default=500,
        ge=1,
        le=1000,
        description="XREADGROUP BLOCK (ms): bounds how long a stop waits; under socket timeout.",
    )
    batch_size: int = Field(default=100, ge=1, description="XREADGROUP / XAUTOCLAIM COUNT.")
    heartbeat_ttl_s: int = Field(default=10, ge=1, description="TTL of the monitor's heartbeat.")
    reclaim_idle_ms: int = Field(
        default=30_000,
        ge=0,
        description="Entries pending this long at any consumer are taken over (XAUTOCLAIM).",
    )
    reclaim_interval_s: float = Field(
        default=5.0, gt=0, description="How often pending entries are looked for."
    )
    processed_ttl_s: int = Field(
        default=2 * 86_400,
        ge=1,
        description="How long an applied event id is remembered for de-duplication.",
    )
    visit_ttl_s: int = Field(
        default=6 * 3600,
        ge=1,
        description=(
            "How long one traveller's queue state is kept (a served event waiting for its joined "
            "one, a joined traveller never served); older waiting travellers leave waiting_now."
        ),
    )
    backoff_max_s: float = Field(
        default=5.0, gt=0, description="Longest pause between retries while Redis fails."
    )

    # ---- lane control -------------------------------------------------------------------------
    halls: dict[Hall, HallConfig] = Field(
        default_factory=lambda: dict(DEFAULT_HALLS),
        description=(
            "Per hall: installed lanes, officers on duty, service times, shares, delays (JSON; "
            "halls and fields left out keep their defaults). A manager's console may override "
            "them at run time at hall_config_key(hall)."
        ),
    )
    control_enabled: bool = Field(
        default=True, description="Run the lane controller (forecast, lane commands, alerts)."
    )
    decision_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often the lane controller decides (real time).",
    )
    lease_ttl_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "How long a hall's controller lease lasts unless renewed (default 2.5 decision "
            "intervals): how soon another monitor takes over from one that died."
        ),
    )

    @field_validator("halls", mode="before")
    @classmethod
    def _complete_halls(cls, value: Any) -> dict[Hall, HallConfig]:
        return complete_halls(value)

    @property
    def lease_ttl_ms(self) -> int:
        ttl = self.lease_ttl_s if self.lease_ttl_s is not None else 2.5 * self.decision_interval_s
        return max(1, round(ttl * 1000))
