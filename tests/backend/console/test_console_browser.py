"""The officer console in Chromium against the real backend (uvicorn) and a real Redis: a new
referral shows within a second, with both photos; the officer's decisions are recorded."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

from backend.audit.chain import recent_entries
from backend.auth.roles import Role
from backend.records.store import RecordsStore
from backend.referrals.tables import ReferralRow
from bordergate.contracts import STREAM_LANE_COMMANDS, Hall, LaneCommand, encode_event
from hardware_mocks.travellers import default_faces_dir, discover_identities
from tests.auth_helpers import TEST_PASSWORD, add_user, device_token
from tests.backend.console.conftest import desks
from tests.backend.referrals.conftest import b64, jpeg, referred_transit
from tests.browser import screenshot
from tests.conftest import free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def face_photos() -> tuple[bytes, bytes]:
    """Two photos of one person from the shared face data, or synthetic ones without it."""
    for paths in discover_identities(default_faces_dir()).values():
        return paths[0].read_bytes(), paths[1].read_bytes()
    return jpeg(240, 300, seed=1), jpeg(240, 300, seed=2)


class Live:
    def __init__(self, base: str, store: RecordsStore, token: str) -> None:
        self.base = base
        self.store = store
        self.kiosk = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})

    def refer(self, photos: bool = True) -> dict[str, Any]:
        response = self.kiosk.post("/v1/clearances", json=referred_transit())
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        if photos:
            self.photos(decision["referral_id"])
        return decision

    def photos(self, referral_id: str) -> None:
        document, live = face_photos()
        put = self.kiosk.put(
            f"/v1/referrals/{referral_id}/photos",
            json={"document": b64(document), "live": b64(live)},
        )
        assert put.status_code == 200, put.text

    def referral(self, referral_id: str) -> ReferralRow:
        with self.store.session() as session:
            row: ReferralRow = session.execute(
                select(ReferralRow).where(ReferralRow.referral_id == uuid.UUID(referral_id))
            ).scalar_one()
            session.expunge(row)
            return row


@pytest.fixture
def live_backend(tmp_path: Path, redis_url: str) -> Iterator[Live]:
    database_url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    store = RecordsStore(database_url)
    store.ensure_schema()
    add_user(store, "olga", Role.OFFICER)
    token = device_token(store, "airport", "A-01")
    # The queue monitor's lanes for the hall, and one command for desk 2.
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.hset("bordergate:lanes:airport", mapping=desks(Hall.AIRPORT, n=4, open_=1))
    command = LaneCommand(hall=Hall.AIRPORT, lane_id="officer-02", action="open", reason="wave")
    client.xadd(STREAM_LANE_COMMANDS, encode_event(command))  # type: ignore[arg-type]
    client.close()
    port = free_port()
    env = part_env(
        BORDERGATE_DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BORDERGATE_PORT=str(port),
        # The referral's flight is on a fixed date: decide on the request's clock.
        BORDERGATE_DECISION_CLOCK="request",
    )
    proc = start_part(["backend"], env, tmp_path / "backend.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/healthz", proc)
        live = Live(base, store, token)
        yield live
        live.kiosk.close()
    finally:
        stop_part(proc)
        store.dispose()


def test_an_officer_sees_a_referral_within_a_second_and_decides_it(
    page: Any, live_backend: Live
) -> None:
    base = live_backend.base
    page.goto(f"{base}/console?hall=airport&desk=officer-02")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.fill("#username", "olga")
    page.fill("#password", TEST_PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/console\?hall=airport.*"))
    page.wait_for_selector("#conn.ok")
    # The lane command shows as a prompt for the officer's desk.
    prompt = page.locator("#prompt-list li.mine")
    assert prompt.inner_text().startswith("Open desk 2 by ")

    first = live_backend.refer(photos=False)
    started = time.monotonic()
    rid = first["referral_id"]
    page.wait_for_selector(f"#referral-list li[data-id='{rid}']", timeout=1000)
    seen_after = time.monotonic() - started
    print(f"referral on the console {seen_after * 1000:.0f} ms after the kiosk's answer")
    assert seen_after < 1.0
    live_backend.photos(rid)
    page.wait_for_function(
        "() => ['document', 'live'].every(k => {"
        " const img = document.getElementById('photo-' + k);"
        " return !img.hidden && img.complete && img.naturalWidth > 0; })",
        timeout=3000,
    )
    assert "The face does not match the passport photo." in page.inner_text("#r-reasons")
    assert "ZHANGSECRET" in page.inner_text("#r-document")
    assert "transit-240h" in page.inner_text("#r-scheme")
    assert page.locator("#r-rules tbody tr").count() > 0
    assert "JPN" in page.inner_text("#r-journey")
    assert page.is_disabled("#stay")  # an officer cannot change the computed stay
    assert page.input_value("#stay") == "2026-07-16"
    screenshot(page, "officer_console")

    page.click("#admit")
    page.wait_for_selector(f"#referral-list li[data-id='{rid}']", state="detached")
    admitted = live_backend.referral(rid)
    assert (admitted.status, admitted.decision, admitted.decided_by) == ("closed", "admit", "olga")
    assert admitted.permitted_until is not None

    second = live_backend.refer(photos=False)
    page.wait_for_selector(f"#referral-list li[data-id='{second['referral_id']}']", timeout=1000)
    page.fill("#note", "no onward ticket shown at the desk")
    page.click("#refuse")
    page.wait_for_selector(
        f"#referral-list li[data-id='{second['referral_id']}']", state="detached"
    )
    refused = live_backend.referral(second["referral_id"])
    assert (refused.decision, refused.note) == ("refuse", "no onward ticket shown at the desk")
    decisions = recent_entries(live_backend.store, kind="officer-decision")
    assert [e.detail["decision"] for e in decisions] == ["refuse", "admit"]
    assert all(e.actor == "olga" for e in decisions)
    # The photos went with the decision (asked with the officer's own session).
    assert page.request.get(f"{base}/v1/referrals/{rid}/photos/live").status == 404
    assert page.request.get(f"{base}/v1/referrals/{second['referral_id']}").ok


def test_the_officer_opens_their_desk_from_the_console(page: Any, live_backend: Live) -> None:
    base = live_backend.base
    page.goto(f"{base}/login?next=/console%3Fhall%3Dairport%26desk%3Dofficer-03")
    page.fill("#username", "olga")
    page.fill("#password", TEST_PASSWORD)
    page.click("#submit")
    page.wait_for_selector("#conn.ok")
    page.wait_for_selector("#desk-toggle:not([disabled])")
    assert page.inner_text("#desk-toggle") == "Open my desk"
    page.click("#desk-toggle")
    page.wait_for_function(
        "() => document.getElementById('desk-state').textContent.startsWith('open')"
    )
    entries = recent_entries(live_backend.store, kind="desk-open")
    assert [(e.actor, e.subject) for e in entries] == [("olga", "airport/officer-03")]
