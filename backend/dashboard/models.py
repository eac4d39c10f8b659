"""What the dashboard's endpoints and websocket send (pydantic, JSON at the boundary)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from bordergate.contracts import (
    Hall,
    LaneDecisionSummary,
    LaneState,
    ScheduledArrival,
    WaitStats,
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class WaitSample(_Out):
    """One hall's wait statistics and open lanes at one sampling interval."""

    hall: Hall
    at: AwareDatetime
    stats_at: AwareDatetime
    samples: int
    p95_wait_s: float | None
    mean_wait_s: float | None
    share_within_target: float | None
    target_s: float
    waiting_now: int
    egates_open: int
    officer_lanes_open: int


class AlertView(_Out):
    """An alert as the dashboard shows it: the monitor's event plus its acknowledgement."""

    event_id: str
    hall: Hall
    kind: str
    severity: str
    message: str
    data: dict[str, Any]
    raised_at: AwareDatetime
    cleared_at: AwareDatetime | None = None
    acked_by: str | None = None
    acked_by_name: str | None = None
    acked_at: AwareDatetime | None = None


class AckReceipt(_Out):
    """The acknowledgement of an alert. ``already``: it had been acknowledged before (the first
    acknowledgement stands and is returned; nothing new is recorded)."""

    alert: AlertView
    already: bool


class ForecastBucket(_Out):
    """The forecast for one bucket of minutes from ``start``."""

    start: AwareDatetime
    arrivals: float
    p95_wait_s: float | None
    share_within_target: float
    officer_lanes: float
    egates: float


class HallForecast(_Out):
    hall: Hall
    at: AwareDatetime
    bucket_min: int
    target_s: float
    share_next_hour_now: float | None
    share_next_hour_planned: float | None
    arrival_scale: float
    buckets: list[ForecastBucket]


class ArrivalBucket(_Out):
    """Travellers the schedule brings to the hall in one bucket of minutes from ``start``."""

    start: AwareDatetime
    passengers: float


class HallView(_Out):
    hall: Hall
    stats: WaitStats | None
    lanes: list[LaneState]
    decision: LaneDecisionSummary | None
    history: list[WaitSample]
    forecast: HallForecast | None
    schedule: list[ScheduledArrival]
    arrivals: list[ArrivalBucket]


class Viewer(_Out):
    username: str
    display_name: str
    role: str


class DashboardState(_Out):
    """Everything the page draws (charts and alerts from ``chart_start``: 00:00 CST, or six
    hours ago when the day is younger); sent first on the websocket, then kept current by messages
    ``{"kind": "wait_stats" | "lane_state" | "lane_decision" | "alert" | "alert_ack" |
    "forecast" | "sample", "data": ...}``."""

    at: datetime
    day: str
    day_start: AwareDatetime
    chart_start: AwareDatetime
    target_s: float
    viewer: Viewer | None
    halls: list[HallView]
    alerts: list[AlertView]
