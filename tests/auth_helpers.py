"""Helpers for tests that need a kiosk device token or a signed-in member of staff."""

from __future__ import annotations

import json
from collections.abc import Generator

import httpx

from backend.auth.devices import DeviceError, register_device
from backend.auth.feeds import FeedScope, register_feed_client
from backend.auth.roles import Role
from backend.auth.users import create_user
from backend.records.store import RecordsStore, RecordsUnavailableError

TEST_PASSWORD = "correct horse battery"


def device_token(store: RecordsStore, hall: str = "airport", lane_id: str = "A-01") -> str:
    """Register a device for one lane; its bearer token."""
    return register_device(store, hall=hall, lane_id=lane_id, actor="test").token


def device_headers(
    store: RecordsStore, hall: str = "airport", lane_id: str = "A-01"
) -> dict[str, str]:
    """``Authorization`` headers of a newly registered device for one lane."""
    return {"Authorization": f"Bearer {device_token(store, hall, lane_id)}"}


def register_device_for(database_url: str, hall: str, lane_id: str) -> str:
    """For process tests: register a device in the records store at ``database_url`` (as
    ``bordergate devices register`` does) and return the token for BORDERGATE_DEVICE_TOKEN."""
    store = RecordsStore(database_url)
    try:
        return device_token(store, hall, lane_id)
    finally:
        store.dispose()


def feed_token(store: RecordsStore, scope: FeedScope, agency_licence: str | None = None) -> str:
    """Register a feed client (manifests, registry or schedules); its bearer token."""
    return register_feed_client(
        store, scope=scope, name=f"test {scope}", agency_licence=agency_licence, actor="test"
    ).token


def register_feed_for(database_url: str, scope: FeedScope) -> str:
    """For process tests: a feed client's token in the records store at ``database_url``."""
    store = RecordsStore(database_url)
    try:
        return feed_token(store, scope)
    finally:
        store.dispose()


FEED_PATHS = {
    "/v1/manifests": FeedScope.MANIFESTS,
    "/v1/registry/": FeedScope.REGISTRY,
    "/v1/schedules": FeedScope.SCHEDULES,
}


def feed_scope_of(path: str) -> FeedScope | None:
    """The feed scope a path needs, if it is a feed's path."""
    return next((scope for prefix, scope in FEED_PATHS.items() if path.startswith(prefix)), None)


def add_user(
    store: RecordsStore,
    username: str,
    role: Role,
    *,
    password: str = TEST_PASSWORD,
    language: str = "en",
) -> str:
    """Create an account; returns its password."""
    create_user(
        store,
        username=username,
        role=role,
        display_name=username.title(),
        password=password,
        language=language,
        actor="test",
    )
    return password


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD
) -> httpx.Response:
    """POST /v1/auth/login; the client keeps the session cookie, and from now on sends the
    ``Origin`` a browser would (cookie-authenticated state changes need it)."""
    client.headers.setdefault("Origin", str(client.base_url).rstrip("/"))
    return await client.post("/v1/auth/login", json={"username": username, "password": password})


class LaneDevices(httpx.Auth):
    """Client auth for tests that are not about auth: each ``POST /v1/clearances`` carries the
    token of a device registered (once) for the body's hall and lane. A request that already has
    an ``Authorization`` header is left alone, so auth tests can send their own. A body without
    a usable hall and lane gets a default device's token, so validation answers as before.
    Requests to the data feeds (manifests, registries, schedules) carry a feed client's token of
    the path's scope, unless they carry a session cookie (a member of staff)."""

    DEFAULT_LANE = ("airport", "A-01")

    def __init__(self, store: RecordsStore) -> None:
        self._store = store
        self._tokens: dict[tuple[str, str], str] = {}
        self._feeds: dict[FeedScope, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            if request.method == "POST" and request.url.path == "/v1/clearances":
                request.headers["Authorization"] = f"Bearer {self._token(request)}"
            elif (scope := feed_scope_of(request.url.path)) and "cookie" not in request.headers:
                request.headers["Authorization"] = f"Bearer {self._feed(scope)}"
        yield request

    def _feed(self, scope: FeedScope) -> str:
        if scope not in self._feeds:
            try:
                self._feeds[scope] = feed_token(self._store, scope)
            except RecordsUnavailableError:
                return "bgf_store-down"  # the backend cannot check it either: it answers 503
        return self._feeds[scope]

    def _token(self, request: httpx.Request) -> str:
        lane = self._lane_of(request) or self.DEFAULT_LANE
        try:
            if lane not in self._tokens:
                try:
                    self._tokens[lane] = device_token(self._store, *lane)
                except DeviceError:  # a lane id the schema refuses anyway
                    lane = self.DEFAULT_LANE
                    if lane not in self._tokens:
                        self._tokens[lane] = device_token(self._store, *lane)
        except RecordsUnavailableError:
            return "bgd_store-down"  # the backend cannot check it either: it answers 503
        return self._tokens[lane]

    @staticmethod
    def _lane_of(request: httpx.Request) -> tuple[str, str] | None:
        try:
            body = json.loads(request.content)
            hall, lane_id = body["hall"], body["lane_id"]
        except httpx.RequestNotRead:
            return None  # a streamed body: the default lane's token
        except (ValueError, KeyError, TypeError):
            return None  # a malformed body: let the backend answer 401/422 as it would
        if not isinstance(hall, str) or not isinstance(lane_id, str):
            return None
        if hall not in ("airport", "cruise") or not lane_id:
            return None
        return hall, lane_id
