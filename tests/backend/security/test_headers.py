"""Security headers on every response of the backend and of the kiosk's traveller screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from backend.auth.roles import Role
from kiosk.screen.app import create_screen_app
from kiosk.screen.hub import ScreenHub
from tests.access_world import AccessWorld, Credential, access_world
from tests.conftest import ReliabilityCase

EVERY_RESPONSE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
CSP_MUST = ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri")


def _check(r: Response, *, cacheable: bool = False) -> list[str]:
    problems = [
        f"{name}: {r.headers.get(name)!r}"
        for name, value in EVERY_RESPONSE.items()
        if r.headers.get(name) != value
    ]
    csp = r.headers.get("content-security-policy", "")
    problems += [f"CSP lacks {part}" for part in CSP_MUST if part not in csp]
    if "unsafe-inline" in csp or "unsafe-eval" in csp or "http" in csp:
        problems.append(f"CSP too loose: {csp}")
    if not cacheable and r.headers.get("cache-control") != "no-store":
        problems.append(f"cache-control: {r.headers.get('cache-control')!r}")
    return [f"{r.request.method} {r.request.url.path} {r.status_code}: {p}" for p in problems]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AccessWorld]:
    with access_world(tmp_path, max_body_bytes=1024) as w:
        yield w


@pytest.mark.reliability("security")
def test_every_kind_of_backend_response_carries_the_headers(
    world: AccessWorld, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "requests answered by pages, JSON APIs, redirects, 401/403/404/405/413/422 errors, the "
        "metrics and the static files, signed in and not"
    )
    reliability_case.asserts(
        "each answer has a strict CSP (own scripts only, no framing), nosniff, X-Frame-Options "
        "DENY, no-referrer and COOP; all but the static files are no-store; no HSTS over "
        "plain-HTTP settings"
    )
    admin = Credential(cookie=world.sessions[Role.ADMIN])
    officer = Credential(cookie=world.sessions[Role.OFFICER])
    none = Credential()
    answers = [
        world.request("GET", "/login", none),
        world.request("GET", "/", none),
        world.request("GET", "/console", officer),
        world.request("GET", "/dashboard", admin),
        world.request("GET", "/dashboard", officer),  # the 403 page
        world.request("GET", "/v1/auth/me", admin),
        world.request("GET", "/v1/devices", admin),
        world.request("GET", "/v1/devices", none),  # 401
        world.request("GET", "/v1/devices", officer),  # 403
        world.request("GET", "/v1/nothing-here", none),  # 404
        world.request("DELETE", "/v1/auth/me", admin),  # 405
        world.request("POST", "/v1/devices", admin),  # 422
        world.request("GET", "/healthz", none),
        world.request("GET", "/metrics", none),
        world.client.post("/v1/clearances", content=b"x" * 4096),  # 413 from the middleware
    ]
    statics = [
        world.client.get("/static/base.css"),
        world.client.get("/static/console/console.js"),
        world.client.get("/static/dashboard/dashboard.js"),
    ]
    assert {r.status_code for r in answers} >= {200, 303, 401, 403, 404, 405, 413, 422}
    assert all(r.status_code == 200 for r in statics)
    problems = [p for r in answers for p in _check(r)]
    problems += [p for r in statics for p in _check(r, cacheable=True)]
    assert problems == []
    assert all("strict-transport-security" not in r.headers for r in answers)
    reliability_case.measured("responses checked", len(answers) + len(statics))


def test_hsts_when_cookies_are_secure(tmp_path: Path) -> None:
    with access_world(tmp_path, session_cookie_secure=False) as plain:
        assert "strict-transport-security" not in plain.client.get("/healthz").headers
    with access_world(tmp_path / "tls", session_cookie_secure=True) as tls:
        hsts = tls.client.get("https://testserver/login").headers["strict-transport-security"]
        assert hsts.startswith("max-age=31536000")


def test_the_api_docs_keep_framing_and_sniffing_rules(world: AccessWorld) -> None:
    docs = world.client.get("/docs")
    assert docs.status_code == 200
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"


@pytest.mark.reliability("security")
def test_the_traveller_screen_carries_the_headers(reliability_case: ReliabilityCase) -> None:
    reliability_case.injects("requests to the kiosk's traveller page, its view, files and a 404")
    reliability_case.asserts("the same header set; its CSP also forbids forms; nothing cached")
    hub = ScreenHub()
    hub.add_lane("A1", "3", ZoneInfo("Asia/Shanghai"))
    client = TestClient(create_screen_app(hub))
    answers = [
        client.get("/lanes/"),
        client.get("/lanes/A1"),
        client.get("/lanes/A1/view"),
        client.get("/i18n.json"),
        client.get("/static/screen.js"),
        client.get("/lanes/Z9"),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 404]
    assert [p for r in answers for p in _check(r)] == []
    assert all("form-action 'none'" in r.headers["content-security-policy"] for r in answers)
