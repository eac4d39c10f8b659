"""A disabled account loses its open sessions at once; a role change applies at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from backend.audit.tables import AuditEntry
from backend.auth.roles import Role
from backend.auth.users import set_disabled, set_role
from tests.access_world import AccessWorld, Credential, access_world
from tests.conftest import ReliabilityCase


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AccessWorld]:
    with access_world(tmp_path) as w:
        yield w


@pytest.mark.reliability("security")
def test_disabling_an_account_ends_its_open_sessions_at_once(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("an officer signed in twice; the account disabled (as the CLI does)")
    reliability_case.asserts(
        "the very next request of either session is 401 and the session is gone from Redis; "
        "the password no longer signs in; enabling again needs a new sign-in"
    )
    first = Credential(cookie=world.sessions[Role.OFFICER])
    second = Credential(cookie=world.sign_in("officer-user"))
    for credential in (first, second):
        assert world.request("GET", "/v1/referrals?hall=airport", credential).status_code == 200
    assert set_disabled(world.app.state.records, "officer-user", True, actor="test")
    for credential in (first, second):
        r = world.request("GET", "/v1/referrals?hall=airport", credential)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "not_signed_in"
    signed_in = world.client.post(
        "/v1/auth/login", json={"username": "officer-user", "password": "correct horse battery"}
    )
    assert signed_in.status_code == 401
    world.client.cookies.clear()
    set_disabled(world.app.state.records, "officer-user", False, actor="test")
    # The old sessions were deleted, not merely refused while disabled.
    assert world.request("GET", "/v1/auth/me", first).status_code == 401


@pytest.mark.reliability("security")
def test_a_disabled_officer_websocket_is_refused(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("an officer's account disabled, then the console websocket opened")
    reliability_case.asserts("the handshake closes with 4401")
    credential = Credential(cookie=world.sessions[Role.OFFICER])
    set_disabled(world.app.state.records, "officer-user", True, actor="test")
    assert world.websocket_close_code("/ws/console?hall=airport", credential) == 4401


@pytest.mark.reliability("security")
def test_a_role_change_applies_to_open_sessions_at_once(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("an officer's role changed to manager while signed in")
    reliability_case.asserts(
        "the same session is refused the console API (403) and allowed the dashboard API at "
        "once, /v1/auth/me says manager, and the change is audited"
    )
    credential = Credential(cookie=world.sessions[Role.OFFICER])
    assert world.request("GET", "/v1/dashboard/state", credential).status_code == 403
    assert set_role(world.app.state.records, "officer-user", Role.MANAGER, actor="test")
    assert world.request("GET", "/v1/referrals?hall=airport", credential).status_code == 403
    assert world.request("GET", "/v1/dashboard/state", credential).status_code == 200
    assert world.request("GET", "/v1/auth/me", credential).json()["role"] == "manager"
    with world.app.state.records.session() as session:
        kinds = session.execute(select(AuditEntry.kind)).scalars().all()
    assert "user-role-changed" in kinds


@pytest.mark.reliability("security")
def test_an_open_dashboard_socket_closes_when_the_account_is_disabled(
    world: AccessWorld, monkeypatch: pytest.MonkeyPatch, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("a manager's dashboard websocket open; the account disabled")
    reliability_case.asserts("the socket is closed with 4401 at the next session check")
    monkeypatch.setattr("backend.dashboard.routes.SESSION_RECHECK_S", 0.2)
    credential = Credential(cookie=world.sessions[Role.MANAGER])
    with world.client.websocket_connect("/ws/dashboard", headers=credential.headers()) as ws:
        assert ws.receive_json()["kind"] == "state"
        set_disabled(world.app.state.records, "manager-user", True, actor="test")
        code = None
        while code is None:  # live messages may come first; the close ends the loop
            try:
                ws.receive_text()
            except WebSocketDisconnect as exc:
                code = exc.code
    assert code == 4401
