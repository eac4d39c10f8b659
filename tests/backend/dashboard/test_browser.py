"""The manager dashboard in Debian's chromium against the real backend (uvicorn, `bordergate
backend`) on a free loopback port and a real redis-server: sign-in, charts with data, an alert
appearing live and acknowledged (who is recorded and audited), an officer refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

import backend.app  # noqa: F401  (every table on the records Base)
from backend.audit.tables import AuditEntry
from backend.auth.feeds import FeedScope
from backend.auth.roles import Role
from backend.auth.users import create_user
from backend.dashboard.models import WaitSample
from backend.dashboard.store import DashboardStore
from backend.dashboard.tables import AlertRow
from backend.records.store import RecordsStore
from bordergate.contracts import (
    CHANNEL_LIVE,
    STREAM_ALERTS,
    Alert,
    Hall,
    LaneState,
    WaitStats,
    encode_event,
    lane_state_key,
    wait_stats_key,
)
from tests.auth_helpers import feed_token
from tests.browser import screenshot
from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

PASSWORD = "correct horse battery"


@dataclass
class Running:
    base: str
    redis: redis.Redis
    records: RecordsStore


def _seed_history(records: RecordsStore, now: datetime) -> None:
    """The day so far as the backend's sampler would have kept it: every 5 minutes for 6 h."""
    store = DashboardStore(records)
    start = now - timedelta(hours=6)
    for i in range(6 * 12):
        at = start + timedelta(minutes=5 * i)
        # A morning bank: waits rise to ~22 min and fall back.
        bump = max(0.0, 1.0 - abs(i - 40) / 14)
        p95 = 240.0 + 1080.0 * bump
        for hall, factor in ((Hall.AIRPORT, 1.0), (Hall.CRUISE, 0.6)):
            store.add_sample(
                WaitSample(
                    hall=hall,
                    at=at,
                    stats_at=at,
                    samples=120,
                    p95_wait_s=p95 * factor,
                    mean_wait_s=p95 * factor / 3,
                    share_within_target=min(1.0, 0.999 - 0.04 * bump * factor),
                    target_s=1500.0,
                    waiting_now=int(20 + 150 * bump),
                    egates_open=10 if hall == Hall.AIRPORT else 8,
                    officer_lanes_open=3 + round(5 * bump),
                )
            )


def _publish_live(client: redis.Redis, now: datetime) -> None:
    """What the queue monitor publishes: statistics and lane state per hall."""
    for hall, p95, officers in ((Hall.AIRPORT, 420.0, 4), (Hall.CRUISE, 180.0, 3)):
        stats = WaitStats(
            hall=hall,
            samples=140,
            p95_wait_s=p95,
            mean_wait_s=p95 / 3,
            share_within_target=0.993,
            target_s=1500.0,
            window_s=3600.0,
            waiting_now=35,
            updated_at=now,
        )
        client.set(wait_stats_key(hall), stats.model_dump_json())
        client.publish(
            CHANNEL_LIVE, json.dumps({"kind": "wait_stats", "data": stats.model_dump(mode="json")})
        )
        lanes = [
            LaneState(
                lane_id=f"egate-{i:02d}", hall=hall, lane_type="egate", status="open", since=now
            )
            for i in range(1, 11)
        ] + [
            LaneState(
                lane_id=f"officer-{i:02d}",
                hall=hall,
                lane_type="officer",
                status="open" if i <= officers else "closed",
                since=now,
            )
            for i in range(1, 13)
        ]
        client.hset(
            lane_state_key(hall), mapping={lane.lane_id: lane.model_dump_json() for lane in lanes}
        )
        client.publish(
            CHANNEL_LIVE,
            json.dumps(
                {
                    "kind": "lane_state",
                    "data": {
                        "hall": hall.value,
                        "lanes": [lane.model_dump(mode="json") for lane in lanes],
                    },
                }
            ),
        )


def _schedule(now: datetime) -> dict[str, Any]:
    def at(minutes: int) -> str:
        return (now + timedelta(minutes=minutes)).isoformat()

    return {
        "arrivals": [
            {"kind": "flight", "ref": "KE805", "hall": "airport", "at": at(-40), "passengers": 280},
            {
                "kind": "flight",
                "ref": "CA926",
                "hall": "airport",
                "at": at(20),
                "passengers": 320,
                "egate_share": 0.4,
            },
            {
                "kind": "flight",
                "ref": "SU204",
                "hall": "airport",
                "at": at(75),
                "passengers": 410,
                "egate_share": 0.3,
            },
            {
                "kind": "flight",
                "ref": "JL5461",
                "hall": "airport",
                "at": at(130),
                "passengers": 250,
            },
            {
                "kind": "ship",
                "ref": "MSC SPLENDIDA",
                "hall": "cruise",
                "at": at(45),
                "passengers": 3200,
                "egate_share": 0.55,
                "disembark_per_min": 40,
            },
        ]
    }


@pytest.fixture
def running(tmp_path: Path, redis_url: str) -> Iterator[Running]:
    database = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    records = RecordsStore(database)
    records.ensure_schema()
    create_user(
        records, username="mia", role=Role.MANAGER, display_name="Mia Manager", password=PASSWORD
    )
    create_user(
        records, username="olek", role=Role.OFFICER, display_name="Olek Officer", password=PASSWORD
    )
    now = datetime.now(UTC)
    _seed_history(records, now)
    port = free_port()
    env = part_env(
        REDIS_URL=redis_url,
        BORDERGATE_DATABASE_URL=database,
        BORDERGATE_DASHBOARD_FORECAST_INTERVAL_S="1",
        BORDERGATE_DASHBOARD_SAMPLE_INTERVAL_S="300",
    )
    proc = start_part(
        ["backend", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "backend.log"
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/healthz", proc)
        operator = {"Authorization": f"Bearer {feed_token(records, FeedScope.SCHEDULES)}"}
        posted = httpx.post(
            f"{base}/v1/schedules", json=_schedule(now), headers=operator, timeout=5
        )
        assert posted.status_code == 200, posted.text
        _publish_live(client, now)
        yield Running(base, client, records)
    finally:
        stop_part(proc)
        client.close()
        records.dispose()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")


def test_manager_sees_charts_and_acknowledges_a_live_alert(
    running: Running, page: Any, browser: Any
) -> None:
    _sign_in(page, running.base, "mia")
    page.wait_for_url(f"{running.base}/dashboard")
    page.wait_for_selector("#conn:text('live')")
    # "live" shows when the socket opens; the charts are drawn from the first state message.
    for hall in ("airport", "cruise"):
        page.locator(f"#hall-{hall} .chart-waits canvas").wait_for()
        page.locator(f"#hall-{hall} .chart-lanes canvas").wait_for()
        assert page.locator(f"#hall-{hall} .chart-waits canvas").count() == 1
        assert page.locator(f"#hall-{hall} .chart-lanes canvas").count() == 1
    page.wait_for_function(
        "document.querySelector('#hall-airport [data-field=p95]').textContent === '7.0 min'"
    )
    assert page.locator("#hall-airport [data-field=officers]").text_content() == "4 / 12"
    assert page.locator("#viewer").text_content() == "Mia Manager (manager)"
    # The forecast arrives (recomputed every second here) with the schedule's flights.
    page.wait_for_function(
        "document.querySelector('#hall-airport [data-field=forecast]').textContent.endsWith('%')"
    )
    assert "CA926" in (page.locator("#hall-airport .arrivals").text_content() or "")

    alert = Alert(
        hall=Hall.AIRPORT,
        severity="critical",
        kind="capacity-insufficient",
        message="airport: even with all 16 officers, only 88% would wait <= 25 min from 10:40",
    )
    started = time.monotonic()
    running.redis.xadd(STREAM_ALERTS, encode_event(alert))  # type: ignore[arg-type]
    item = page.locator(f"#active-alerts [data-alert-id='{alert.event_id}']")
    item.wait_for(timeout=3000)
    appeared_s = time.monotonic() - started
    assert appeared_s < 2.0, appeared_s
    assert "only 88%" in (item.text_content() or "")
    page.wait_for_timeout(1500)  # let the charts and the forecast settle for the picture
    screenshot(page, "manager_dashboard")

    item.locator("button.ack").click()
    item.locator(".acked-by").wait_for()
    assert "Acknowledged by Mia Manager" in (item.locator(".acked-by").text_content() or "")
    with running.records.session() as session:
        row = session.get(AlertRow, alert.event_id)
        assert row is not None
        assert row.acked_by == "mia"
        assert row.acked_at is not None
        audited = session.execute(
            select(AuditEntry.actor, AuditEntry.subject).where(AuditEntry.kind == "alert-ack")
        ).all()
        assert audited == [("mia", alert.event_id)]
    history = page.locator(f"#alert-history tr[data-alert-id='{alert.event_id}']")
    assert "acknowledged by Mia Manager" in (history.text_content() or "")
    print(f"alert on the page {appeared_s * 1000:.0f} ms after XADD")

    # An officer who opens the dashboard is refused.
    officer = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        other = officer.new_page()
        other.set_default_timeout(5000)
        _sign_in(other, running.base, "olek")
        other.wait_for_selector("text=Not allowed")
        response = other.goto(f"{running.base}/dashboard")
        assert response is not None
        assert response.status == 403
        assert other.locator("#halls").count() == 0
    finally:
        officer.close()
