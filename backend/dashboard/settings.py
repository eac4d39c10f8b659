"""Dashboard settings, read from ``BORDERGATE_DASHBOARD_*`` environment variables."""

from __future__ import annotations

from pydantic import Field

from bordergate.settings import CommonSettings


class DashboardSettings(CommonSettings):
    """How often the backend samples waits and refreshes the forecast for the dashboard."""

    dashboard_sample_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Each hall's wait statistics are kept once per interval for the day's chart",
    )
    dashboard_stale_after_s: float = Field(
        default=120.0,
        gt=0,
        description="Wait statistics older than this are not sampled (the monitor is down)",
    )
    dashboard_forecast_interval_s: float = Field(
        default=30.0, gt=0, le=3600, description="How often the forecast is recomputed"
    )
    dashboard_forecast_bucket_min: int = Field(
        default=15, ge=1, le=60, description="Width of the forecast's and the arrivals' bars"
    )
    dashboard_client_queue: int = Field(
        default=256, ge=8, description="Messages buffered per dashboard; a slower one is dropped"
    )
