"""The dashboard's service on ``app.state.dashboard``: its stores, hub, background loops, the
state a page starts from, and acknowledgements."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import structlog
from anyio import to_thread
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.auth.roles import Principal
from backend.dashboard import live
from backend.dashboard.forecast import arrival_buckets
from backend.dashboard.models import (
    AckReceipt,
    AlertView,
    DashboardState,
    HallForecast,
    HallView,
    Viewer,
)
from backend.dashboard.settings import DashboardSettings
from backend.dashboard.store import DashboardStore, day_bounds
from backend.policy.clock import cst_date
from backend.records.store import RecordsStore
from bordergate.contracts import CHANNEL_LIVE, Hall
from queue_monitor.control import LaneController, read_lane_decision, read_lanes
from queue_monitor.hall_config import effective_config
from queue_monitor.lanes import ordered
from queue_monitor.schedule import read_arrivals
from queue_monitor.service import read_stats
from queue_monitor.settings import MonitorSettings

log = structlog.get_logger(__name__)

# The charts start at 00:00 CST, or this long ago when the day is younger (just after midnight a
# chart of minutes would hide the evening's ship still clearing).
HISTORY_AT_LEAST = timedelta(hours=6)


class DashboardService:
    def __init__(
        self,
        redis: Redis,
        records: RecordsStore,
        settings: DashboardSettings | None = None,
        monitor_settings: MonitorSettings | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings or DashboardSettings()
        # The monitors' hall configuration and controller settings (the same environment), so
        # the forecast is the one the lane controller would make.
        self.monitor_settings = monitor_settings or MonitorSettings()
        self.store = DashboardStore(records)
        self.hub = live.DashboardHub(self.settings.dashboard_client_queue)
        self.controller = LaneController(redis, self.monitor_settings)
        self.forecasts: dict[Hall, HallForecast] = {}

    @property
    def target_s(self) -> float:
        return self.monitor_settings.target_wait_s

    def start(self) -> list[asyncio.Task[None]]:
        """The background loops (cancelled by the app at shutdown)."""
        loops = {
            "alerts": live.tail_alerts(self.redis, self.store, self.hub),
            "live": live.relay_live(self.redis, self.hub),
            "samples": live.sample_waits(self.redis, self.store, self.settings),
            "forecast": live.refresh_forecasts(
                self.redis, self.controller, self.settings, self.hub, self.forecasts
            ),
        }
        return [
            asyncio.create_task(coro, name=f"bordergate-dashboard-{name}")
            for name, coro in loops.items()
        ]

    @staticmethod
    def chart_start(now: datetime) -> datetime:
        return min(day_bounds(cst_date(now))[0], now - HISTORY_AT_LEAST)

    async def hall_view(self, hall: Hall, now: datetime) -> HallView:
        start = self.chart_start(now)
        config = await effective_config(self.redis, hall, self.monitor_settings.halls[hall])
        horizon = timedelta(minutes=self.controller.config.horizon_min)
        bucket = self.settings.dashboard_forecast_bucket_min
        arrivals = await read_arrivals(self.redis, hall)
        shown = [a for a in arrivals if start <= a.at <= now + horizon]
        lanes = await read_lanes(self.redis, hall)
        return HallView(
            hall=hall,
            stats=await read_stats(self.redis, hall),
            lanes=ordered(lanes.values()),
            decision=await read_lane_decision(self.redis, hall),
            history=await to_thread.run_sync(self.store.samples_between, start, now, hall),
            forecast=self.forecasts.get(hall),
            schedule=shown,
            arrivals=arrival_buckets(arrivals, config, start, now + horizon, bucket),
        )

    async def state(self, viewer: Principal | None, now: datetime | None = None) -> DashboardState:
        """Everything the page draws for the CST day of ``now``."""
        now = now or datetime.now(UTC)
        day = cst_date(now)
        start, _ = day_bounds(day)
        return DashboardState(
            at=now,
            day=day.isoformat(),
            day_start=start,
            chart_start=self.chart_start(now),
            target_s=self.target_s,
            viewer=None
            if viewer is None
            else Viewer(
                username=viewer.username, display_name=viewer.display_name, role=viewer.role
            ),
            halls=[await self.hall_view(hall, now) for hall in Hall],
            alerts=await to_thread.run_sync(
                self.store.alerts_between, self.chart_start(now), now + timedelta(days=1)
            ),
        )

    async def alerts(self, day: date) -> list[AlertView]:
        return await to_thread.run_sync(self.store.alerts, day)

    async def acknowledge(self, event_id: str, principal: Principal) -> AckReceipt | None:
        """Record the acknowledgement (audited) and tell every worker's dashboards."""
        receipt = await to_thread.run_sync(self.store.acknowledge, event_id, principal)
        if receipt is not None and not receipt.already:
            log.info("dashboard.alert_acknowledged", alert=event_id, by=principal.username)
            text = live.message(live.KIND_ALERT_ACK, receipt.alert)
            try:
                await self.redis.publish(CHANNEL_LIVE, text)
            except RedisError as exc:  # recorded all the same: tell this worker's pages at least
                log.warning("dashboard.ack_not_published", error=type(exc).__name__)
                self.hub.broadcast(text)
        return receipt
