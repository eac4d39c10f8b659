"""FastAPI dependencies: who is asking, and may they.

- :func:`require_roles` for JSON APIs: 401 when not signed in (or the session expired), 403 for a
  role not in the list.
- :func:`require_page` for HTML pages: a redirect to ``/login?next=<path>`` when not signed in, a
  small 403 page for a wrong role.
- :func:`websocket_principal` for websockets: the session cookie of the handshake; on failure the
  socket is accepted and closed at once with 4401 (not signed in) or 4403 (wrong role), so the
  page can tell the two apart (a refused handshake carries no code).
- :func:`require_device` for kiosks: ``Authorization: Bearer <token>`` of an active device.
- :func:`require_feed` for the data feeds (manifests, registries, schedules): the bearer token
  of an active feed client of that scope, or (where allowed) a staff session of given roles.

Cookie-authenticated state changes must also come from our own pages (``backend.security.csrf``),
and every session is checked against the account store (disabled accounts, changed roles).
"""

from __future__ import annotations

import html
from typing import cast
from urllib.parse import quote

from anyio import to_thread
from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from redis.asyncio import Redis

from backend.auth.devices import device_for_token
from backend.auth.feeds import FeedClient, FeedScope, feed_client_for_token
from backend.auth.roles import Device, Principal, Role
from backend.auth.sessions import SESSION_COOKIE, SessionPolicy, SessionStore
from backend.auth.users import active_principal
from backend.records.store import RecordsStore
from backend.security.csrf import SAFE_METHODS, cross_site_reason, websocket_origin_reason
from backend.settings import BackendSettings

WS_NOT_SIGNED_IN = 4401
WS_FORBIDDEN = 4403


class AuthError(HTTPException):
    """401/403 of a JSON API, answered in the backend's error shape."""

    def __init__(
        self, status_code: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.error = error
        self.message = message


class LoginRedirect(HTTPException):
    """An HTML page asked for without a session: go and sign in, then come back."""

    def __init__(self, next_path: str) -> None:
        location = f"/login?next={quote(next_path, safe='/')}"
        super().__init__(status_code=303, detail="sign in first", headers={"Location": location})
        self.location = location


class PageForbidden(HTTPException):
    """An HTML page the signed-in role may not open."""

    def __init__(self, principal: Principal) -> None:
        super().__init__(status_code=403, detail="not allowed for this role")
        self.principal = principal


def session_store(app: FastAPI) -> SessionStore:
    """Sessions live in Redis; this is a cheap view on ``app.state.redis``.

    Each resolve also reads the account from the records store, so disabling an account or
    changing its role applies to its open sessions at once.
    """
    cfg = cast(BackendSettings, app.state.settings)
    policy = SessionPolicy(idle_s=cfg.session_idle_s, absolute_s=cfg.session_absolute_s)
    records = cast(RecordsStore, app.state.records)

    async def accounts(username: str) -> Principal | None:
        return await to_thread.run_sync(active_principal, records, username)

    return SessionStore(cast(Redis, app.state.redis), policy, accounts=accounts)


def require_same_origin(request: Request) -> None:
    """403 for a cookie-authenticated state change that did not come from our own pages."""
    if request.method in SAFE_METHODS:
        return
    cfg = cast(BackendSettings, request.app.state.settings)
    reason = cross_site_reason(request.headers, cfg.allowed_origins)
    if reason is not None:
        raise AuthError(403, "cross_site_request", reason)


async def current_principal(request: Request) -> Principal | None:
    """The signed-in principal of this request, or None (no role check)."""
    return await session_store(request.app).resolve(request.cookies.get(SESSION_COOKIE))


class RequireRoles:
    """A dependency for JSON APIs: the principal if signed in with one of ``roles`` (any role
    when none are given); state changes must also come from our own pages."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        principal = await current_principal(request)
        if principal is None:
            raise AuthError(401, "not_signed_in", "sign in first (or the session expired)")
        if self.roles and principal.role not in self.roles:
            raise AuthError(403, "forbidden", f"the {principal.role} role may not do this")
        require_same_origin(request)
        return principal


class RequirePage:
    """A dependency for HTML pages: redirects to the sign-in page, or a 403 page."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        principal = await current_principal(request)
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRedirect(target)
        if self.roles and principal.role not in self.roles:
            raise PageForbidden(principal)
        return principal


def require_roles(*roles: Role) -> RequireRoles:
    return RequireRoles(*roles)


def require_page(*roles: Role) -> RequirePage:
    return RequirePage(*roles)


async def websocket_principal(websocket: WebSocket, *roles: Role) -> Principal | None:
    """The principal of the handshake's session cookie, or None after closing the socket.

    On success the socket is left as it is: the caller accepts it.
    """
    app = cast(FastAPI, websocket.app)
    cfg = cast(BackendSettings, app.state.settings)
    store = session_store(app)
    principal = await store.resolve(websocket.cookies.get(SESSION_COOKIE))
    code: int | None = None
    if websocket_origin_reason(websocket.headers, cfg.allowed_origins) is not None:
        code = WS_FORBIDDEN  # another site's page, riding on the cookie
    elif principal is None:
        code = WS_NOT_SIGNED_IN
    elif roles and principal.role not in roles:
        code = WS_FORBIDDEN
    if code is None:
        return principal
    await websocket.accept()
    await websocket.close(
        code=code, reason="sign in first" if code == WS_NOT_SIGNED_IN else "forbidden"
    )
    return None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def require_device(request: Request) -> Device:
    """A dependency for kiosk APIs: the active device whose bearer token came with the request."""
    challenge = {"WWW-Authenticate": "Bearer"}
    token = _bearer(request)
    if token is None:
        raise AuthError(401, "device_token_missing", "a device token is required", challenge)
    if len(token) > 256:
        raise AuthError(401, "device_unknown", "unknown or revoked device", challenge)
    store = cast(RecordsStore, request.app.state.records)
    device = await to_thread.run_sync(device_for_token, store, token)
    if device is None:
        raise AuthError(401, "device_unknown", "unknown or revoked device", challenge)
    return device


class RequireFeed:
    """A dependency for a data feed: an active feed client of ``scope`` (bearer token), or, when
    ``staff_roles`` are given, a staff session with one of them (same-origin rules apply)."""

    def __init__(self, scope: FeedScope, *staff_roles: Role) -> None:
        self.scope = scope
        self.staff = RequireRoles(*staff_roles) if staff_roles else None

    async def __call__(self, request: Request) -> FeedClient | Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        token = _bearer(request)
        if token is None:
            if self.staff is not None and request.cookies.get(SESSION_COOKIE):
                return await self.staff(request)
            needs = "a feed client token" + (" or a staff session" if self.staff else "")
            raise AuthError(401, "feed_token_missing", f"{needs} is required", challenge)
        client = None
        if len(token) <= 256:
            store = cast(RecordsStore, request.app.state.records)
            client = await to_thread.run_sync(feed_client_for_token, store, token)
        if client is None:
            raise AuthError(401, "feed_client_unknown", "unknown or revoked feed client", challenge)
        if client.scope != self.scope:
            raise AuthError(
                403, "feed_scope", f"this client feeds {client.scope}, not {self.scope}"
            )
        return client


def require_feed(scope: FeedScope, *staff_roles: Role) -> RequireFeed:
    return RequireFeed(scope, *staff_roles)


def forbidden_page(principal: Principal) -> str:
    name = html.escape(principal.display_name)
    role = html.escape(str(principal.role))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not allowed - bordergate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/base.css"></head>
<body><main class="card"><h1>Not allowed</h1>
<p>{name}, the <strong>{role}</strong> role cannot open this page.</p>
<p><a class="button" href="/">Go to my page</a></p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</main></body></html>"""


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": exc.error, "message": exc.message},
        headers=exc.headers,
    )


async def _login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRedirect)
    return RedirectResponse(exc.location, status_code=303)


async def _page_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return HTMLResponse(forbidden_page(exc.principal), status_code=403)


def install_auth_handlers(app: FastAPI) -> None:
    """Answer the dependencies' exceptions (JSON error shape, redirect, 403 page)."""
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(LoginRedirect, _login_redirect)
    app.add_exception_handler(PageForbidden, _page_forbidden)
