"""Sign-in over HTTP: cookies, roles on APIs, pages and websockets, lockout, expiry, audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.app import create_app
from backend.audit.chain import recent_entries, verify_chain
from backend.auth.deps import require_page, require_roles, websocket_principal
from backend.auth.roles import Principal, Role
from backend.auth.sessions import SESSION_COOKIE
from backend.records.store import RecordsStore
from tests.auth_helpers import TEST_PASSWORD, add_user, sign_in
from tests.backend.conftest import make_settings


def add_test_routes(app: FastAPI) -> None:
    """A manager-only API, page and websocket, only in these tests."""

    async def manager_api(
        who: Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.ADMIN))],
    ) -> dict[str, str]:
        return {"hello": who.username}

    async def manager_page(
        who: Annotated[Principal, Depends(require_page(Role.MANAGER))],
    ) -> dict[str, str]:
        return {"page": who.username}

    async def manager_ws(websocket: WebSocket) -> None:
        who = await websocket_principal(websocket, Role.MANAGER)
        if who is None:
            return
        await websocket.accept()
        await websocket.send_json({"hello": who.username})
        await websocket.close()

    app.add_api_route("/test/manager-api", manager_api)
    app.add_api_route("/test/manager-page", manager_page)
    app.add_api_websocket_route("/test/manager-ws", manager_ws)


def build_app(tmp_path: Path, **overrides: object) -> FastAPI:
    app = create_app(make_settings(tmp_path, **overrides))
    add_test_routes(app)
    return app


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(tmp_path)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://backend") as c,
    ):
        store: RecordsStore = app.state.records
        add_user(store, "olga", Role.OFFICER, language="zh")
        add_user(store, "mia", Role.MANAGER)
        add_user(store, "ada", Role.ADMIN)
        add_user(store, "sam", Role.SUPERVISOR)
        yield app, c


def kinds(app: FastAPI) -> list[str]:
    return [e.kind for e in reversed(recent_entries(app.state.records, limit=200))]


async def test_sign_in_sets_a_strict_http_only_cookie_and_me_answers(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    response = await sign_in(client, "Olga")
    assert response.status_code == 200
    assert response.json() == {
        "username": "olga",
        "role": "officer",
        "display_name": "Olga",
        "language": "zh",
        "home": "/console",
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # BORDERGATE_SESSION_COOKIE_SECURE defaults off (plain HTTP)
    me = await client.get("/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "olga"
    assert "sign-in" in kinds(app)


async def test_the_secure_flag_is_configurable(tmp_path: Path) -> None:
    app = build_app(tmp_path, session_cookie_secure=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://b") as client,
    ):
        add_user(app.state.records, "olga", Role.OFFICER)
        response = await sign_in(client, "olga")
        assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("username", "home"),
    [("olga", "/console"), ("sam", "/console"), ("mia", "/dashboard"), ("ada", "/dashboard")],
)
async def test_root_sends_each_role_to_its_page(
    app_client: tuple[FastAPI, httpx.AsyncClient], username: str, home: str
) -> None:
    _, client = app_client
    assert (await client.get("/")).headers["location"] == "/login"
    await sign_in(client, username)
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == home


async def test_a_wrong_password_is_refused_and_audited(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    for name in ("olga", "nobody"):
        response = await sign_in(client, name, "wrong-password")
        assert response.status_code == 401
        assert response.json() == {
            "error": "invalid_credentials",
            "message": "wrong username or password",
        }
        assert "set-cookie" not in response.headers
    assert (await client.get("/v1/auth/me")).status_code == 401
    failed = [e for e in recent_entries(app.state.records) if e.kind == "sign-in-failed"]
    assert sorted(e.subject for e in failed) == ["nobody", "olga"]
    assert all("password" not in str(e.detail) for e in failed)


async def test_five_failures_lock_the_account_for_a_while(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    for _ in range(5):
        assert (await sign_in(client, "olga", "wrong-password")).status_code == 401
    locked = await sign_in(client, "olga")  # even the right password, now
    assert locked.status_code == 429
    assert locked.json()["error"] == "account_locked"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60 + 1
    assert (await client.get("/v1/auth/me")).status_code == 401
    assert (await sign_in(client, "mia")).status_code == 200  # others are not affected
    assert kinds(app).count("account-locked") == 1
    assert "sign-in-refused" in kinds(app)


async def test_a_success_clears_earlier_failures(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    for _ in range(4):
        await sign_in(client, "olga", "wrong-password")
    assert (await sign_in(client, "olga")).status_code == 200
    for _ in range(4):
        await sign_in(client, "olga", "wrong-password")
    assert (await sign_in(client, "olga")).status_code == 200


async def test_sign_out_ends_the_session_and_is_audited(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    await sign_in(client, "olga")
    cookie = client.cookies[SESSION_COOKIE]
    response = await client.post("/v1/auth/logout")
    assert response.status_code == 204
    assert (await client.get("/v1/auth/me")).status_code == 401
    # The old cookie is worthless now, even if someone kept a copy.
    client.cookies.set(SESSION_COOKIE, cookie)
    assert (await client.get("/v1/auth/me")).status_code == 401
    assert kinds(app)[-1] == "sign-out"
    assert verify_chain(app.state.records) is None


async def test_an_idle_session_expires(tmp_path: Path) -> None:
    app = build_app(tmp_path, session_idle_s=0.4)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        add_user(app.state.records, "olga", Role.OFFICER)
        await sign_in(client, "olga")
        for _ in range(3):  # used every 0.2 s: stays alive past 0.4 s
            await asyncio.sleep(0.2)
            assert (await client.get("/v1/auth/me")).status_code == 200
        await asyncio.sleep(0.6)
        response = await client.get("/v1/auth/me")
        assert response.status_code == 401
        assert response.json()["error"] == "not_signed_in"


async def test_a_session_ends_at_the_absolute_limit(tmp_path: Path) -> None:
    app = build_app(tmp_path, session_idle_s=60, session_absolute_s=0.6)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        add_user(app.state.records, "olga", Role.OFFICER)
        await sign_in(client, "olga")
        assert (await client.get("/v1/auth/me")).status_code == 200
        await asyncio.sleep(0.7)
        assert (await client.get("/v1/auth/me")).status_code == 401


async def test_an_officer_is_refused_on_a_manager_api(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    anonymous = await client.get("/test/manager-api")
    assert anonymous.status_code == 401
    await sign_in(client, "olga")
    refused = await client.get("/test/manager-api")
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    await sign_in(client, "mia")
    assert (await client.get("/test/manager-api")).json() == {"hello": "mia"}


async def test_pages_redirect_to_sign_in_and_refuse_other_roles(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    anonymous = await client.get("/test/manager-page?hall=cruise")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/test/manager-page%3Fhall%3Dcruise"
    await sign_in(client, "olga")
    refused = await client.get("/test/manager-page")
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "Not allowed" in refused.text
    await sign_in(client, "mia")
    assert (await client.get("/test/manager-page")).json() == {"page": "mia"}


async def test_the_login_page_and_shared_css_are_served(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    page = await client.get("/login")
    assert page.status_code == 200
    assert 'href="/static/base.css"' in page.text
    assert (await client.get("/static/base.css")).status_code == 200
    assert (await client.get("/static/login.js")).status_code == 200


@pytest.fixture
def sync_client(tmp_path: Path) -> Iterator[TestClient]:
    app = build_app(tmp_path)
    with TestClient(app) as client:
        add_user(app.state.records, "olga", Role.OFFICER)
        add_user(app.state.records, "mia", Role.MANAGER)
        yield client


def test_websockets_check_the_session_cookie_and_role(sync_client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as anonymous,
        sync_client.websocket_connect("/test/manager-ws") as ws,
    ):
        ws.receive_json()
    assert anonymous.value.code == 4401

    ok = sync_client.post("/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD})
    assert ok.status_code == 200
    with (
        pytest.raises(WebSocketDisconnect) as officer,
        sync_client.websocket_connect("/test/manager-ws") as ws,
    ):
        ws.receive_json()
    assert officer.value.code == 4403

    sync_client.post("/v1/auth/login", json={"username": "mia", "password": TEST_PASSWORD})
    with sync_client.websocket_connect("/test/manager-ws") as ws:
        assert ws.receive_json() == {"hello": "mia"}
