"""Every route and websocket of the backend refuses the wrong credential.

The routes are enumerated from the app itself, so a route added later is checked too: it must
declare its principal (a staff session of some roles, a staff page, a kiosk device token or a
feed client token) as a dependency, or be listed in ``PUBLIC`` with the reason it is open. A new
websocket must be listed in ``WEBSOCKET_ROLES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.app import create_app
from backend.auth.roles import Role
from backend.dashboard.routes import DASHBOARD_ROLES
from backend.referrals.api import OFFICER_ROLES
from tests.access_world import AccessWorld, Credential, access_world, forged_tokens
from tests.backend.conftest import make_settings
from tests.conftest import ReliabilityCase
from tests.route_map import Guarded, RouteMap, route_map

PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "the load balancer's liveness probe; says only that the process runs",
    ("GET", "/readyz"): "the load balancer's readiness probe; names dependencies, no data",
    ("GET", "/metrics"): "Prometheus scrape on the internal network; counters, no personal data",
    ("GET", "/login"): "the sign-in page itself",
    ("POST", "/v1/auth/login"): "exchanges a password for a session (throttled and audited)",
    ("POST", "/v1/auth/logout"): "ends the caller's own session, if any (same-origin only)",
    ("POST", "/logout"): "the pages' sign-out form (same-origin only)",
    ("GET", "/"): "redirects to the sign-in page or the role's home page",
    ("GET", "/openapi.json"): "the API's published contract",
    ("GET", "/docs"): "the API docs page (the contract, no data)",
    ("GET", "/docs/oauth2-redirect"): "part of the API docs page",
    ("GET", "/redoc"): "the API docs page (the contract, no data)",
}
PUBLIC_MOUNTS = {
    "/static": "the staff pages' shared CSS and scripts",
    "/static/console": "the console page's script and CSS",
    "/static/dashboard": "the dashboard page's scripts, CSS and vendored uPlot",
}
WEBSOCKET_ROLES: dict[str, tuple[Role, ...]] = {
    "/ws/console": OFFICER_ROLES,
    "/ws/dashboard": DASHBOARD_ROLES,
}
WEBSOCKET_QUERY = {"/ws/console": "?hall=airport"}


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> RouteMap:
    app = create_app(make_settings(tmp_path_factory.mktemp("routes")))
    return route_map(app, set(PUBLIC), set(PUBLIC_MOUNTS))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AccessWorld]:
    with access_world(tmp_path) as w:
        yield w


def _refused(route: Guarded, status: int, location: str | None) -> bool:
    """Refused as "not authenticated": 401, or for a page the redirect to the sign-in page."""
    if route.kind == "page":
        return status == 303 and (location or "").startswith("/login")
    return status == 401


def _check_unauthenticated(
    world: AccessWorld, routes: RouteMap, credential: Credential
) -> list[str]:
    """Every guarded route and websocket refuses ``credential`` as not signed in."""
    failures = []
    for route in routes.guarded:
        r = world.request(route.method, route.url, credential)
        if not _refused(route, r.status_code, r.headers.get("location")):
            failures.append(f"{route}: {r.status_code} {r.text[:120]}")
    for path in routes.websockets:
        code = world.websocket_close_code(path + WEBSOCKET_QUERY.get(path, ""), credential)
        if code != 4401:
            failures.append(f"WS {path}: closed with {code}, not 4401")
    return failures


@pytest.mark.reliability("security")
def test_every_route_declares_its_principal_or_is_public_with_a_reason(
    routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("nothing: the app's routes are enumerated from app.routes")
    reliability_case.asserts(
        "every HTTP route declares a staff, page, device or feed principal, or is listed as "
        "public with a reason; every websocket has its roles listed"
    )
    assert routes.unclassified == [], "routes with no principal and not listed as public"
    unknown_ws = [p for p in routes.websockets if p not in WEBSOCKET_ROLES]
    assert unknown_ws == [], "websockets whose roles this test does not know"
    assert {(g.method, g.path) for g in routes.guarded} >= {
        ("POST", "/v1/manifests"),
        ("GET", "/v1/manifests/{manifest_id}"),
        ("POST", "/v1/registry/visas"),
        ("POST", "/v1/registry/records"),
        ("POST", "/v1/schedules"),
        ("GET", "/v1/schedules/{hall}"),
    }
    reliability_case.measured("guarded routes", len(routes.guarded))
    reliability_case.measured("public routes", len(PUBLIC))
    reliability_case.measured("websockets", len(routes.websockets))


@pytest.mark.reliability("security")
def test_no_credential_is_refused_everywhere(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("a request to every guarded route and websocket with no credential")
    reliability_case.asserts("401 (a redirect to /login for pages); websockets close with 4401")
    assert _check_unauthenticated(world, routes, Credential()) == []
    reliability_case.measured("routes refused", len(routes.guarded))


@pytest.mark.reliability("security")
def test_expired_session_is_refused_everywhere(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("an admin's session cookie left unused past the idle limit")
    reliability_case.asserts("refused as not signed in on every route and websocket")
    assert _check_unauthenticated(world, routes, Credential(cookie=world.expired_session)) == []


@pytest.mark.reliability("security")
def test_signed_out_session_is_refused_everywhere(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects("the cookie of a session that signed out, sent again")
    reliability_case.asserts("refused as not signed in on every route and websocket")
    assert _check_unauthenticated(world, routes, Credential(cookie=world.signed_out_session)) == []


@pytest.mark.reliability("security")
def test_forged_tokens_are_refused_everywhere(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "never-issued tokens (random in each format, SQL-like garbage, 5,000 characters) as the "
        "session cookie and as the bearer token; a revoked device's and a revoked feed's token"
    )
    reliability_case.asserts("every one refused as not authenticated on every route and websocket")
    failures = []
    tokens = {**forged_tokens(), "revoked device": world.revoked_device}
    tokens["revoked feed"] = world.revoked_feed
    for name, token in tokens.items():
        for credential in (Credential(cookie=token), Credential(bearer=token)):
            failures += [f"{name}: {f}" for f in _check_unauthenticated(world, routes, credential)]
    assert failures == []
    reliability_case.measured("forged credentials tried", len(tokens) * 2)


@pytest.mark.reliability("security")
def test_wrong_role_and_wrong_feed_are_forbidden(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "each role's session on every staff route, page, feed and websocket it is not allowed, "
        "and each feed's token on the other feeds' routes"
    )
    reliability_case.asserts("403 (forbidden, or a 403 page); websockets close with 4403")
    failures, tried = [], 0
    for route in routes.guarded:
        if route.kind in ("staff", "page", "feed"):
            # No roles: any signed-in role may (``/v1/auth/me``), or for a feed-only route a
            # session is no credential at all (the next test).
            for role in set(Role) - route.roles if route.roles else ():
                tried += 1
                r = world.request(route.method, route.url, Credential(cookie=world.sessions[role]))
                wanted = r.status_code == 403 and (
                    route.kind == "page" or r.json().get("error") == "forbidden"
                )
                if not wanted:
                    failures.append(f"{route} as {role}: {r.status_code} {r.text[:100]}")
        if route.kind == "feed":
            for scope, token in world.feeds.items():
                if scope == route.scope:
                    continue
                tried += 1
                r = world.request(route.method, route.url, Credential(bearer=token))
                if r.status_code != 403 or r.json().get("error") != "feed_scope":
                    failures.append(f"{route} as {scope} feed: {r.status_code}")
    for path, allowed in WEBSOCKET_ROLES.items():
        for role in set(Role) - set(allowed):
            tried += 1
            credential = Credential(cookie=world.sessions[role])
            code = world.websocket_close_code(path + WEBSOCKET_QUERY.get(path, ""), credential)
            if code != 4403:
                failures.append(f"WS {path} as {role}: closed with {code}")
    assert failures == []
    reliability_case.measured("wrong-role attempts refused", tried)


@pytest.mark.reliability("security")
def test_kiosk_tokens_and_staff_sessions_do_not_stand_in_for_each_other(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "an active kiosk device token (as bearer and as cookie) and feed tokens on staff "
        "routes, pages and websockets; every staff role's session on kiosk and feed-only routes"
    )
    reliability_case.asserts("all refused as not authenticated (401, /login, 4401)")
    failures = []
    machine = [Credential(bearer=world.device), Credential(cookie=world.device)]
    machine += [Credential(bearer=t) for t in world.feeds.values()]
    staff_only = RouteMap(
        [g for g in routes.guarded if g.kind in ("staff", "page")], routes.websockets, []
    )
    for credential in machine:
        failures += _check_unauthenticated(world, staff_only, credential)
    machine_only = RouteMap(
        [g for g in routes.guarded if g.kind == "device" or (g.kind == "feed" and not g.roles)],
        [],
        [],
    )
    for session in world.sessions.values():
        failures += _check_unauthenticated(world, machine_only, Credential(cookie=session))
    device_routes = [g for g in routes.guarded if g.kind == "device"]
    for route in device_routes:
        for token in world.feeds.values():  # a feed token is no kiosk
            r = world.request(route.method, route.url, Credential(bearer=token))
            if r.status_code != 401:
                failures.append(f"{route} with a feed token: {r.status_code}")
    assert failures == []
    assert device_routes
    assert staff_only.guarded
    assert machine_only.guarded


@pytest.mark.reliability("security")
def test_the_right_credential_passes_every_guard(
    world: AccessWorld, routes: RouteMap, reliability_case: ReliabilityCase
) -> None:
    """The control: each route's own principal gets past authentication (so the refusals above
    are the guards' doing, not a broken request)."""
    reliability_case.injects("each guarded route called with a principal it allows")
    reliability_case.asserts("no 401, no redirect to /login and no role or origin 403")
    auth_errors = {"not_signed_in", "forbidden", "cross_site_request", "feed_scope"}
    failures = []
    for route in routes.guarded:
        if route.kind == "device":
            credential = Credential(bearer=world.device)
        elif route.kind == "feed":
            assert route.scope is not None
            credential = Credential(bearer=world.feeds[route.scope])
        else:
            role = next(iter(route.roles)) if route.roles else Role.OFFICER
            # With the header the console page sends on its state changes.
            console = {"X-Bordergate-Console": "1"}
            credential = Credential(cookie=world.sessions[role], extra=console)
        r = world.request(route.method, route.url, credential)
        body = r.json() if "json" in r.headers.get("content-type", "") else None
        error = body.get("error") if isinstance(body, dict) else None
        if r.status_code == 401 or r.status_code == 303 or error in auth_errors:
            failures.append(f"{route}: {r.status_code} {r.text[:100]}")
    for path, allowed in WEBSOCKET_ROLES.items():
        credential = Credential(cookie=world.sessions[allowed[0]])
        with world.client.websocket_connect(
            path + WEBSOCKET_QUERY.get(path, ""), headers=credential.headers()
        ) as ws:
            first = ws.receive_json()
            if not isinstance(first, dict):
                failures.append(f"WS {path}: {first!r}")
    assert failures == []
