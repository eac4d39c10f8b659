"""Sign-in for staff: the ``/login`` page, ``/v1/auth/*`` and ``/`` (each role's home page)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from backend.audit.chain import audit_append_async
from backend.auth.deps import (
    AuthError,
    current_principal,
    require_roles,
    require_same_origin,
    session_store,
)
from backend.auth.roles import HOME_PAGES, Principal, Role
from backend.auth.sessions import SESSION_COOKIE, LockoutPolicy, LoginThrottle
from backend.auth.users import check_password, normalise_username
from backend.records.store import RecordsStore
from backend.security.csrf import login_origin_reason
from backend.settings import BackendSettings

router = APIRouter(tags=["sign-in"])

_LOGIN_PAGE = resources.files("backend.auth").joinpath("login.html").read_text("utf-8")
_NO_STORE = {"Cache-Control": "no-store"}


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SignedIn(BaseModel):
    username: str
    role: Role
    display_name: str
    language: str
    home: str = Field(description="The page this role starts on")


def _settings(request: Request) -> BackendSettings:
    return cast(BackendSettings, request.app.state.settings)


def _store(request: Request) -> RecordsStore:
    return cast(RecordsStore, request.app.state.records)


def _throttle(request: Request) -> LoginThrottle:
    cfg = _settings(request)
    policy = LockoutPolicy(
        max_failures=cfg.login_max_failures,
        window_s=cfg.login_failure_window_s,
        lockout_s=cfg.login_lockout_s,
    )
    return LoginThrottle(request.app.state.redis, policy)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _locked(seconds: float) -> AuthError:
    return AuthError(
        429,
        "account_locked",
        f"too many failed sign-ins: try again in {int(seconds // 60) + 1} min",
        {"Retry-After": str(int(seconds) + 1)},
    )


def _signed_in(principal: Principal) -> SignedIn:
    return SignedIn(**principal.model_dump(), home=HOME_PAGES[principal.role])


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page() -> HTMLResponse:
    return HTMLResponse(_LOGIN_PAGE, headers=_NO_STORE)


@router.post(
    "/v1/auth/login",
    response_model=SignedIn,
    summary="Sign in with username and password; sets the session cookie",
    responses={
        401: {"description": "Wrong username or password"},
        403: {"description": "Sent by another site's page (cross-site sign-in)"},
        429: {"description": "Locked"},
    },
)
async def login(body: LoginBody, request: Request, response: Response) -> SignedIn:
    name = normalise_username(body.username)
    store = _store(request)
    cfg = _settings(request)
    throttle = _throttle(request)
    audit = {"client": _client(request)}

    async def refused(why: str) -> None:
        await audit_append_async(
            store, kind="sign-in-refused", actor=name, subject=name, detail={**audit, "why": why}
        )

    async def locked_now(failures: int) -> None:
        await audit_append_async(
            store,
            kind="account-locked",
            actor="backend",
            subject=name,
            detail={**audit, "failures": failures, "for_s": cfg.login_lockout_s},
        )

    cross_site = login_origin_reason(request.headers, cfg.allowed_origins)
    if cross_site is not None:  # another site's page signing the browser in as someone else
        await refused("cross-site")
        raise AuthError(403, "cross_site_request", cross_site)
    locked_s = await throttle.locked_for(name)
    if locked_s > 0:
        await refused("locked")
        raise _locked(locked_s)
    attempts = await throttle.note_attempt(name)
    if attempts > cfg.login_max_failures:
        # Attempts sent at once: those past the limit lock the account and go unchecked.
        await refused("too-many-attempts")
        if await throttle.lock(name):
            await locked_now(attempts - 1)
        raise _locked(cfg.login_lockout_s)
    user = await to_thread.run_sync(check_password, store, name, body.password)
    if user is None:
        await audit_append_async(
            store, kind="sign-in-failed", actor=name, subject=name, detail=audit
        )
        if attempts >= cfg.login_max_failures and await throttle.lock(name):
            await locked_now(attempts)
        raise AuthError(401, "invalid_credentials", "wrong username or password")
    if await throttle.locked_for(name) > 0:
        # Locked by a concurrent attempt while this password was checked: refused all the same.
        await refused("locked")
        raise _locked(cfg.login_lockout_s)
    await throttle.clear(name)
    principal = user.principal()
    token = await session_store(request.app).create(principal)
    await audit_append_async(
        store, kind="sign-in", actor=name, subject=name, detail={**audit, "role": str(user.role)}
    )
    # A browser-session cookie (gone when the browser closes); expiry is enforced server-side.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cfg.session_cookie_secure,
        path="/",
    )
    response.headers.update(_NO_STORE)
    return _signed_in(principal)


async def _sign_out(request: Request, response: Response) -> None:
    require_same_origin(request)  # another site may not sign the officer out either
    token = request.cookies.get(SESSION_COOKIE)
    store = session_store(request.app)
    principal = await store.resolve(token)
    await store.end(token)
    if principal is not None:
        await audit_append_async(
            _store(request),
            kind="sign-out",
            actor=principal.username,
            subject=principal.username,
            detail={"client": _client(request)},
        )
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


@router.post(
    "/v1/auth/logout",
    status_code=204,
    summary="End the session",
    responses={403: {"description": "Not sent by one of our own pages (cross-site)"}},
)
async def logout(request: Request) -> Response:
    response = Response(status_code=204)
    await _sign_out(request, response)
    return response


@router.post("/logout", include_in_schema=False)
async def logout_form(request: Request) -> Response:
    """The pages' sign-out button (a plain form POST): end the session, back to /login."""
    response = RedirectResponse("/login", status_code=303)
    await _sign_out(request, response)
    return response


@router.get("/v1/auth/me", response_model=SignedIn, summary="Who is signed in")
async def me(principal: Annotated[Principal, Depends(require_roles())]) -> SignedIn:
    return _signed_in(principal)


@router.get("/", include_in_schema=False)
async def home(request: Request) -> RedirectResponse:
    principal = await current_principal(request)
    target = "/login" if principal is None else HOME_PAGES[principal.role]
    return RedirectResponse(target, status_code=303)
