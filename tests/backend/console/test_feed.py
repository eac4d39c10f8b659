"""The console's websocket: the open referrals on connect, then each change within a second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from bordergate.contracts import STREAM_LANE_COMMANDS, Hall, LaneCommand, encode_event
from tests.backend.console.conftest import Console
from tests.backend.referrals.conftest import b64, jpeg, kiosk_report, referred_transit


def next_of(ws: WebSocketTestSession, kind: str, limit: int = 20) -> dict[str, Any]:
    """The next message of ``kind`` (others, e.g. periodic resyncs, are skipped)."""
    for _ in range(limit):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def test_referrals_appear_gain_photos_and_close_live(console: Console) -> None:
    console.seed_desks()
    kiosk = console.device()
    first = console.client.post("/v1/clearances", json=referred_transit(), headers=kiosk)
    assert first.json()["outcome"] == "refer"
    officer = console.staff("olga")
    with officer.websocket_connect("/ws/console?hall=airport") as ws:
        snapshot = next_of(ws, "snapshot")
        assert snapshot["hall"] == "airport"
        assert snapshot["principal"]["username"] == "olga"
        assert [r["referral_id"] for r in snapshot["referrals"]] == [first.json()["referral_id"]]
        assert [d["lane_id"] for d in snapshot["desks"]] == [
            "officer-01",
            "officer-02",
            "officer-03",
        ]
        # A kiosk's own referral is pushed within a second.
        started = time.monotonic()
        report = console.client.post("/v1/referrals", json=kiosk_report(), headers=kiosk)
        opened = next_of(ws, "referral.opened")
        assert time.monotonic() - started < 1.0
        rid = report.json()["referral_id"]
        assert opened["referral"]["referral_id"] == rid
        assert opened["referral"]["reasons"][0]["code"] == "liveness-failed"
        put = console.client.put(
            f"/v1/referrals/{rid}/photos", json={"live": b64(jpeg())}, headers=kiosk
        )
        assert put.status_code == 200
        photos = next_of(ws, "referral.photos")
        assert photos["referral"]["photos"] == ["live"]
        decided = officer.post(f"/v1/referrals/{rid}/decision", json={"decision": "secondary"})
        assert decided.status_code == 200
        closed = next_of(ws, "referral.closed")
        assert closed == {
            "type": "referral.closed",
            "referral_id": rid,
            "decision": "secondary",
            "decided_by": "olga",
        }


def test_the_other_halls_referrals_are_not_pushed(console: Console) -> None:
    officer = console.staff("olga")
    with officer.websocket_connect("/ws/console?hall=cruise") as ws:
        assert next_of(ws, "snapshot")["referrals"] == []
        console.client.post("/v1/referrals", json=kiosk_report(), headers=console.device())
        cruise = console.device("cruise", "C-01")
        report = console.client.post("/v1/referrals", json=kiosk_report(), headers=cruise)
        opened = next_of(ws, "referral.opened")
        assert opened["referral"]["referral_id"] == report.json()["referral_id"]
        assert opened["referral"]["hall"] == "cruise"


def test_reasons_come_in_the_officers_language(console: Console) -> None:
    console.client.post("/v1/referrals", json=kiosk_report(), headers=console.device())
    with console.staff("wang").websocket_connect("/ws/console?hall=airport") as ws:
        [referral] = next_of(ws, "snapshot")["referrals"]
        assert referral["reasons"][0]["text"] == "活体检测未通过。"


@pytest.mark.parametrize(
    ("who", "path", "code"),
    [
        (None, "/ws/console?hall=airport", 4401),
        ("mia", "/ws/console?hall=airport", 4403),
        ("olga", "/ws/console?hall=moon", 4400),
    ],
)
def test_the_feed_is_for_officers_of_a_known_hall(
    console: Console, who: str | None, path: str, code: int
) -> None:
    client = console.client if who is None else console.staff(who)
    with client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == code


def test_lane_commands_for_the_hall_become_prompts(console: Console) -> None:
    console.seed_desks()
    earlier = LaneCommand(
        hall=Hall.AIRPORT, lane_id="officer-03", action="open", reason="queue growing"
    )
    console.redis.xadd(STREAM_LANE_COMMANDS, encode_event(earlier))  # type: ignore[arg-type]
    with console.staff("olga").websocket_connect("/ws/console?hall=airport") as ws:
        [prompt] = next_of(ws, "snapshot")["prompts"]
        assert prompt["lane_id"] == "officer-03"
        assert prompt["text"].startswith("Open desk 3 by ")
        assert prompt["reason"] == "queue growing"
        from datetime import datetime, timedelta

        from backend.policy.clock import CST

        at = datetime(2026, 7, 5, 8, 40, tzinfo=CST)
        for event in (
            LaneCommand(hall=Hall.CRUISE, lane_id="officer-01", action="open", effective_at=at),
            LaneCommand(
                hall=Hall.AIRPORT,
                lane_id="officer-07",
                action="open",
                effective_at=at,
                at=at - timedelta(minutes=5),
            ),
        ):
            console.redis.xadd(STREAM_LANE_COMMANDS, encode_event(event))  # type: ignore[arg-type]
        message = next_of(ws, "prompts")
        assert [p["text"] for p in message["prompts"]] == ["Open desk 7 by 08:40"]


async def test_the_feed_ends_when_the_session_ends(tmp_path: Path, fake_redis: Redis) -> None:
    from backend.auth.roles import Principal, Role
    from backend.console.live import ConsoleFeed
    from backend.records.store import RecordsStore
    from backend.referrals.service import ReferralService

    store = RecordsStore(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    sent: list[dict[str, Any]] = []
    checks = 0

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def signed_in() -> bool:
        nonlocal checks
        checks += 1
        return checks < 2

    feed = ConsoleFeed(
        ReferralService(store, fake_redis),
        fake_redis,
        Hall.AIRPORT,
        Principal(username="olga", role=Role.OFFICER, display_name="Olga"),
        send,
        resync_s=0.05,
        signed_in=signed_in,
    )
    try:
        async with asyncio.timeout(5):
            assert await feed.run() is False
    finally:
        store.dispose()
    assert [m["type"] for m in sent] == ["snapshot", "referrals"]
