"""Desk open/close from the console: the lane state the queue monitor reads, held by the officer
who opened it, audited, pushed to the consoles; the console page itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from backend.audit.chain import recent_entries, verify_chain
from bordergate.contracts import Hall, LaneState, desk_officer_key, lane_state_key
from queue_monitor.control import read_lanes
from tests.backend.console.conftest import Console
from tests.backend.console.test_feed import next_of

URL = "/v1/console/desks/airport"


def desk(console: Console, lane_id: str) -> LaneState:
    raw = console.redis.hget(lane_state_key(Hall.AIRPORT), lane_id)
    assert isinstance(raw, str)
    return LaneState.model_validate_json(raw)


def test_an_officer_opens_and_closes_their_desk(console: Console) -> None:
    console.seed_desks(n=3, open_=1)
    officer = console.staff("olga")
    with officer.websocket_connect("/ws/console?hall=airport") as ws:
        next_of(ws, "snapshot")
        opened = officer.post(f"{URL}/officer-02", json={"action": "open"})
        assert opened.status_code == 200, opened.text
        assert opened.json()["changed"] is True
        lane = desk(console, "officer-02")
        assert lane.status == "open"
        assert lane.ready_at is not None
        assert lane.closable_at is not None
        assert lane.closable_at > datetime.now(UTC)  # the controller leaves it open a while
        assert console.redis.get(desk_officer_key(Hall.AIRPORT, "officer-02")) == "olga"
        pushed = next_of(ws, "desks")
        mine = [d for d in pushed["desks"] if d["lane_id"] == "officer-02"]
        assert mine[0]["status"] == "open"
        assert mine[0]["officer"] == "olga"
        # Opening it again changes nothing and records nothing more.
        again = officer.post(f"{URL}/officer-02", json={"action": "open"})
        assert again.json()["changed"] is False
        closed = officer.post(f"{URL}/officer-02", json={"action": "close"})
        assert closed.status_code == 200
        assert desk(console, "officer-02").status == "closed"
        assert console.redis.get(desk_officer_key(Hall.AIRPORT, "officer-02")) is None
    records = console.app.state.records  # type: ignore[attr-defined]
    [opened_entry] = recent_entries(records, kind="desk-open")
    [closed_entry] = recent_entries(records, kind="desk-close")
    assert opened_entry.actor == closed_entry.actor == "olga"
    assert opened_entry.subject == "airport/officer-02"
    assert closed_entry.detail["from_status"] == "open"
    assert verify_chain(records) is None
    # The queue monitor reads the hall's lanes as before (same format, nothing dropped).
    lanes = asyncio.run(read_lanes_sync(console))
    assert sorted(lanes) == ["egate-01", "officer-01", "officer-02", "officer-03"]


async def read_lanes_sync(console: Console) -> dict[str, LaneState]:
    from fakeredis import FakeAsyncRedis

    client = FakeAsyncRedis(server=console.server, decode_responses=True)
    try:
        return await read_lanes(client, Hall.AIRPORT)
    finally:
        await client.aclose()


def test_a_desk_held_by_another_officer_is_theirs_unless_a_supervisor_steps_in(
    console: Console,
) -> None:
    console.seed_desks()
    assert console.staff("olga").post(f"{URL}/officer-03", json={"action": "open"}).is_success
    other = console.staff("wang")
    refused = other.post(f"{URL}/officer-03", json={"action": "close"})
    assert refused.status_code == 403
    assert "olga" in refused.json()["message"]
    assert desk(console, "officer-03").status == "open"
    supervisor = console.staff("sam")
    assert supervisor.post(f"{URL}/officer-03", json={"action": "close"}).status_code == 200
    assert desk(console, "officer-03").status == "closed"


def test_bad_desk_requests_change_nothing(console: Console) -> None:
    officer = console.staff("olga")
    # The queue monitor has not set up the hall yet: nothing to open.
    assert officer.post(f"{URL}/officer-01", json={"action": "open"}).status_code == 409
    console.seed_desks()
    before = console.redis.hgetall(lane_state_key(Hall.AIRPORT))
    assert officer.post(f"{URL}/officer-09", json={"action": "open"}).status_code == 404
    assert officer.post(f"{URL}/egate-01", json={"action": "close"}).status_code == 404
    assert officer.post(f"{URL}/officer-02", json={"action": "lock"}).status_code == 422
    assert (
        officer.post("/v1/console/desks/moon/officer-02", json={"action": "open"}).status_code
        == 422
    )
    no_csrf = officer.post(
        f"{URL}/officer-02", json={"action": "open"}, headers={"X-Bordergate-Console": ""}
    )
    assert no_csrf.status_code == 403
    manager = console.staff("mia")
    assert manager.post(f"{URL}/officer-02", json={"action": "open"}).status_code == 403
    assert console.client.post(f"{URL}/officer-02", json={"action": "open"}).status_code == 401
    assert console.redis.hgetall(lane_state_key(Hall.AIRPORT)) == before
    assert recent_entries(console.app.state.records, kind="desk-open") == []  # type: ignore[attr-defined]


def test_the_console_page_is_for_officers(console: Console) -> None:
    anonymous = console.client.get("/console", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    page = console.staff("olga").get("/console")
    assert page.status_code == 200
    assert "Officer lane console" in page.text
    assert "/static/console/console.js" in page.text
    assert console.staff("mia").get("/console").status_code == 403
    listed = console.staff("olga").get("/v1/console/desks/airport")
    assert [d["lane_id"] for d in listed.json()] == []  # no lanes set up in this test
    script = console.client.get("/static/console/console.js")
    assert script.status_code == 200
    assert "X-Bordergate-Console" in script.text
    assert console.client.get("/static/base.css").status_code == 200


def test_the_lane_controller_keeps_a_desk_an_officer_opened(console: Console) -> None:
    """The controller's own transitions (queue_monitor.lanes) read the desk as an open lane that
    is not closable yet, so its next decision does not close it under the officer."""
    from queue_monitor.hall_config import DEFAULT_HALLS
    from queue_monitor.lanes import advance, close_lanes, reconcile

    config = DEFAULT_HALLS[Hall.AIRPORT]
    console.seed_desks(n=config.officer_desks, open_=1)
    officer = console.staff("olga")
    assert officer.post(f"{URL}/officer-05", json={"action": "open"}).status_code == 200
    stored = asyncio.run(read_lanes_sync(console))
    now = datetime.now(UTC)
    lanes, dropped = reconcile(Hall.AIRPORT, stored, config, now)
    lanes = advance(lanes, config, now)
    assert dropped == []
    assert lanes["officer-05"].status == "open"
    closed = close_lanes(lanes, "officer", config.officer_desks, now, "overstaffed")
    assert "officer-05" not in {change.lane.lane_id for change in closed}
    assert "officer-01" in {change.lane.lane_id for change in closed}  # open for an hour
