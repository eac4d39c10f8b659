"""The state a dashboard starts from: its time window around midnight CST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.dashboard.service import DashboardService
from backend.policy.clock import CST


def test_charts_start_at_midnight_or_six_hours_back() -> None:
    afternoon = datetime(2026, 5, 1, 15, 0, tzinfo=CST)
    assert DashboardService.chart_start(afternoon) == datetime(2026, 5, 1, 0, 0, tzinfo=CST)
    just_after_midnight = datetime(2026, 5, 2, 0, 30, tzinfo=CST)
    assert DashboardService.chart_start(just_after_midnight) == just_after_midnight - timedelta(
        hours=6
    )
    # 16:30 UTC is 00:30 CST the next day.
    utc = datetime(2026, 5, 1, 16, 30, tzinfo=UTC)
    assert DashboardService.chart_start(utc) == utc - timedelta(hours=6)
