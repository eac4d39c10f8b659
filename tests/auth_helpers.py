"""Helpers for tests that need a kiosk device token or a signed-in member of staff."""

from __future__ import annotations

import json
from collections.abc import Generator

import httpx

from backend.auth.devices import DeviceError, register_device
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
    """POST /v1/auth/login; the client keeps the session cookie."""
    return await client.post("/v1/auth/login", json={"username": username, "password": password})


class LaneDevices(httpx.Auth):
    """Client auth for tests that are not about auth: each ``POST /v1/clearances`` carries the
    token of a device registered (once) for the body's hall and lane. A request that already has
    an ``Authorization`` header is left alone, so auth tests can send their own. A body without
    a usable hall and lane gets a default device's token, so validation answers as before."""

    DEFAULT_LANE = ("airport", "A-01")

    def __init__(self, store: RecordsStore) -> None:
        self._store = store
        self._tokens: dict[tuple[str, str], str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if (
            "authorization" not in request.headers
            and request.method == "POST"
            and request.url.path == "/v1/clearances"
        ):
            request.headers["Authorization"] = f"Bearer {self._token(request)}"
        yield request

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
