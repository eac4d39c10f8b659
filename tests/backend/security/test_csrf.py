"""Cross-site requests on the session cookie are refused, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.app import create_app
from backend.audit.tables import AuditEntry
from backend.auth.feeds import FeedScope
from backend.auth.roles import Role
from backend.security.csrf import cross_site_reason, login_origin_reason, websocket_origin_reason
from tests.access_world import ORIGIN, AccessWorld, Credential, access_world
from tests.backend.conftest import make_settings
from tests.conftest import ReliabilityCase
from tests.route_map import Guarded, route_map

HOST = {"host": "gate.example:8000"}
FOREIGN = {
    "another site's Origin": {"Origin": "https://evil.example"},
    "the same host on another port (same-site, not same-origin)": {
        "Origin": "http://testserver:8001"
    },
    "an opaque Origin (sandboxed frame, data: URL)": {"Origin": "null"},
    "Sec-Fetch-Site: cross-site": {"Sec-Fetch-Site": "cross-site"},
    "Sec-Fetch-Site: same-site": {"Sec-Fetch-Site": "same-site"},
    "Sec-Fetch-Site: same-origin but a foreign Origin": {
        "Sec-Fetch-Site": "same-origin",
        "Origin": "https://evil.example",
    },
}


def test_same_origin_rules() -> None:
    assert cross_site_reason({**HOST, "origin": "http://gate.example:8000"}) is None
    assert cross_site_reason({**HOST, "sec-fetch-site": "same-origin"}) is None
    assert cross_site_reason({**HOST, "origin": "https://GATE.example:8000"}) is None
    assert cross_site_reason({**HOST, "origin": "http://gate.example"}) is not None
    assert cross_site_reason({**HOST, "origin": "http://gate.example:8000.evil"}) is not None
    assert cross_site_reason({**HOST, "origin": "ftp://gate.example:8000"}) is not None
    assert cross_site_reason(HOST) is not None  # neither header: fail closed
    proxied = {"host": "10.0.0.5:8000", "origin": "https://gate.example"}
    assert cross_site_reason(proxied) is not None
    assert cross_site_reason(proxied, ["https://gate.example/"]) is None
    # Sign-in: scripts send neither header and may sign in; a foreign page may not.
    assert login_origin_reason(HOST) is None
    assert login_origin_reason({**HOST, "origin": "https://evil.example"}) is not None
    # Websockets: browsers always send Origin, so only a foreign one is refused.
    assert websocket_origin_reason(HOST) is None
    assert websocket_origin_reason({**HOST, "origin": "https://evil.example"}) is not None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AccessWorld]:
    with access_world(tmp_path) as w:
        yield w


def _state_changing_staff_routes(tmp_path: Path) -> list[Guarded]:
    app = create_app(make_settings(tmp_path / "routes"))
    routes = route_map(app, set(), set()).guarded
    return [
        g
        for g in routes
        if g.method not in ("GET", "HEAD") and (g.kind == "staff" or (g.kind == "feed" and g.roles))
    ]


def _audit_count(world: AccessWorld) -> int:
    with world.app.state.records.session() as session:
        count: int = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        return count


@pytest.mark.reliability("security")
def test_every_cookie_authenticated_state_change_refuses_a_cross_site_request(
    world: AccessWorld, tmp_path: Path, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "every state-changing route a staff session may call (decisions, desks, alert ack, "
        "device admin, manifests, schedules), sent with an allowed role's valid cookie but a "
        "foreign Origin, a same-site port, an opaque Origin, a cross-site or same-site "
        "Sec-Fetch-Site, or no Origin at all"
    )
    reliability_case.asserts(
        "403 cross_site_request every time and the audit trail is unchanged; the same request "
        "from the page's own origin gets past the check"
    )
    routes = _state_changing_staff_routes(tmp_path)
    assert {g.path for g in routes} >= {
        "/v1/referrals/{referral_id}/decision",
        "/v1/console/desks/{hall}/{lane_id}",
        "/v1/alerts/{event_id}/ack",
        "/v1/devices",
        "/v1/devices/{device_id}/revoke",
        "/v1/manifests",
        "/v1/schedules",
    }
    before = _audit_count(world)
    failures, tried = [], 0
    for route in routes:
        role = Role.ADMIN if Role.ADMIN in route.roles else next(iter(route.roles))
        cookie = world.sessions[role]
        attempts = {**FOREIGN, "no Origin and no Sec-Fetch-Site": {"Origin": ""}}
        for name, headers in attempts.items():
            tried += 1
            credential = Credential(cookie=cookie, extra={"X-Bordergate-Console": "1", **headers})
            sent = credential.headers()
            if not sent["Origin"]:
                del sent["Origin"]
            r = world.client.request(route.method, route.url, json={}, headers=sent)
            if r.status_code != 403 or r.json().get("error") != "cross_site_request":
                failures.append(f"{route} with {name}: {r.status_code} {r.text[:80]}")
        own = Credential(cookie=cookie, extra={"X-Bordergate-Console": "1"})
        r = world.request(route.method, route.url, own)
        if r.status_code == 403 and r.json().get("error") == "cross_site_request":
            failures.append(f"{route} from its own origin was refused")
    assert failures == []
    assert _audit_count(world) == before
    reliability_case.measured("cross-site attempts refused", tried)


@pytest.mark.reliability("security")
def test_cross_site_sign_out_and_sign_in_are_refused(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "a foreign page posting to /logout and /v1/auth/logout with the officer's cookie, and "
        "to /v1/auth/login with valid credentials (login CSRF)"
    )
    reliability_case.asserts(
        "403 each; the officer's session still works; no session is created for the foreign "
        "page and the refused sign-in is audited"
    )
    cookie = world.sessions[Role.OFFICER]
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for path in ("/logout", "/v1/auth/logout"):
        r = world.request("POST", path, Credential(cookie=cookie, extra=evil))
        assert r.status_code == 403, (path, r.text)
    assert world.request("GET", "/v1/auth/me", Credential(cookie=cookie)).status_code == 200
    world.client.cookies.clear()
    r = world.client.post(
        "/v1/auth/login",
        json={"username": "officer-user", "password": "correct horse battery"},
        headers=evil,
    )
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    with world.app.state.records.session() as session:
        refused = session.execute(
            select(AuditEntry).where(AuditEntry.kind == "sign-in-refused")
        ).scalar_one()
    assert refused.detail["why"] == "cross-site"
    # The page's own sign-out still works.
    r = world.request("POST", "/logout", Credential(cookie=cookie))
    assert r.status_code == 303
    assert world.request("GET", "/v1/auth/me", Credential(cookie=cookie)).status_code == 401


@pytest.mark.reliability("security")
def test_cross_site_websocket_is_refused(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("a foreign page opening the console and dashboard websockets")
    reliability_case.asserts("closed with 4403 before any data, though the cookie is valid")
    for path, role in (("/ws/console?hall=airport", Role.OFFICER), ("/ws/dashboard", Role.ADMIN)):
        credential = Credential(cookie=world.sessions[role], extra={"Origin": "https://evil.ex"})
        assert world.websocket_close_code(path, credential) == 4403
        own = Credential(cookie=world.sessions[role], extra={"Origin": ORIGIN})
        with world.client.websocket_connect(path, headers=own.headers()) as ws:
            assert isinstance(ws.receive_json(), dict)


def test_machine_clients_need_no_origin(world: AccessWorld) -> None:
    """Bearer-token callers (kiosks, feeds) are no browsers: no Origin needed, none checked."""
    r = world.client.post(
        "/v1/schedules",
        json={"arrivals": []},
        headers={"Authorization": f"Bearer {world.feeds[FeedScope.SCHEDULES]}"},
    )
    assert r.status_code == 422  # past authentication, refused by the schema (empty list)
