"""The backend under Starlette's TestClient with a credential of every kind, for security tests.

``AccessWorld`` holds signed-in sessions of each role, an expired and a signed-out session, kiosk
device tokens (active and revoked) and feed client tokens (each scope, and a revoked one), and
sends requests or opens websockets with exactly the credential a test names.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fakeredis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from starlette.websockets import WebSocketDisconnect

from backend.app import create_app
from backend.auth.devices import revoke_device
from backend.auth.feeds import FeedScope, register_feed_client, revoke_feed_client
from backend.auth.roles import Principal, Role
from backend.auth.sessions import SESSION_COOKIE, SessionPolicy, SessionStore
from backend.settings import BackendSettings
from tests.auth_helpers import TEST_PASSWORD, add_user, device_token, feed_token
from tests.backend.conftest import make_settings

ORIGIN = "http://testserver"  # the TestClient's own origin: what our pages would send


@dataclass
class Credential:
    """What a request carries: a session cookie, a bearer token, both or neither."""

    cookie: str | None = None
    bearer: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = {"Origin": ORIGIN, **self.extra}
        if self.cookie is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.cookie}"
        if self.bearer is not None:
            headers["Authorization"] = f"Bearer {self.bearer}"
        return headers


class AccessWorld:
    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app = app
        self.client = client
        self.sessions: dict[Role, str] = {}
        store = app.state.records
        for role in Role:
            add_user(store, f"{role}-user", role)
            self.sessions[role] = self.sign_in(f"{role}-user")
        self.device = device_token(store, "airport", "A-01")
        self.revoked_device = device_token(store, "airport", "A-02")
        revoke_device(store, _device_id(store, self.revoked_device), actor="test")
        self.feeds = {scope: feed_token(store, scope) for scope in FeedScope}
        revoked = register_feed_client(store, scope=FeedScope.MANIFESTS, name="gone", actor="t")
        revoke_feed_client(store, revoked.info.client.client_id, actor="test")
        self.revoked_feed = revoked.token
        self.expired_session = self._expired_session()
        self.signed_out_session = self.sign_in("officer-user")
        out = self.client.post("/v1/auth/logout", headers=self.staff(self.signed_out_session))
        assert out.status_code == 204, out.text

    def sign_in(self, username: str, password: str = TEST_PASSWORD) -> str:
        self.client.cookies.clear()
        response = self.client.post(
            "/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.cookies[SESSION_COOKIE]
        self.client.cookies.clear()  # each request below sends its own credential
        return token

    def _expired_session(self) -> str:
        """A session left unused for longer than the idle limit (its Redis key still there)."""
        cfg: BackendSettings = self.app.state.settings
        policy = SessionPolicy(idle_s=cfg.session_idle_s, absolute_s=cfg.session_absolute_s)
        started = time.time() - cfg.session_idle_s - 1
        store = SessionStore(self.app.state.redis, policy, clock=lambda: started)
        principal = Principal(username="admin-user", role=Role.ADMIN, display_name="Admin")
        assert self.client.portal is not None
        token: str = self.client.portal.call(store.create, principal)
        return token

    @staticmethod
    def staff(token: str) -> dict[str, str]:
        return Credential(cookie=token).headers()

    def request(self, method: str, path: str, credential: Credential) -> Response:
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        response: Response = self.client.request(
            method, path, json=body, headers=credential.headers(), follow_redirects=False
        )
        return response

    def websocket_close_code(self, path: str, credential: Credential) -> int | None:
        """The close code the server sends right after the handshake; None if it stays open."""
        headers = credential.headers()
        with self.client.websocket_connect(path, headers=headers) as ws:
            try:
                ws.receive_text()
            except WebSocketDisconnect as exc:
                return exc.code
            return None


def _device_id(store: Any, token: str) -> str:
    from backend.auth.devices import device_for_token

    device = device_for_token(store, token)
    assert device is not None
    return device.device_id


@contextlib.contextmanager
def access_world(tmp_path: Path, **settings: Any) -> Iterator[AccessWorld]:
    server = fakeredis.FakeServer()
    app = create_app(make_settings(tmp_path, **settings), embedded_redis=server)
    with TestClient(app) as client:
        yield AccessWorld(app, client)


def forged_tokens() -> dict[str, str]:
    """Tokens that were never issued: random ones in each format, and plain garbage."""
    return {
        "random session-like": uuid.uuid4().hex + uuid.uuid4().hex,
        "random device-like": "bgd_" + uuid.uuid4().hex,
        "random feed-like": "bgf_" + uuid.uuid4().hex,
        "garbage": "' OR 1=1 --",
        "oversized": "x" * 5000,
    }
