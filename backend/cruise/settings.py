"""Cruise manifest settings, read from ``BORDERGATE_CRUISE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bordergate.settings import CommonSettings

DEFAULT_AGENCIES_FILE = Path(__file__).resolve().parent / "data" / "agencies.yaml"


class CruiseSettings(CommonSettings):
    """``BORDERGATE_CRUISE_MANIFEST_LEAD_TIME_H`` and ``BORDERGATE_CRUISE_AGENCIES_FILE``."""

    cruise_manifest_lead_time_h: float = Field(
        default=24.0,
        ge=0,
        description=(
            "How long before the ship's arrival a manifest (or an amendment) must be submitted. "
            "24 h is Shanghai's 2016 rule; 0 (the demo) only requires it before arrival."
        ),
    )
    cruise_agencies_file: Path = Field(
        default=DEFAULT_AGENCIES_FILE,
        description="YAML list of licensed travel agencies, loaded once at start",
    )
    cruise_match_window_h: float = Field(
        default=6.0,
        ge=0,
        le=24,
        description=(
            "A traveller matches a manifest whose arrival is on the same CST day as theirs, or "
            "within this many hours of it (a ship docking late in the evening)"
        ),
    )
