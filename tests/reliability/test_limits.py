"""Size, rate and shape limits: what a greedy, slow or sloppy client gets, and what is kept.

In-process cases run the app on fakeredis and a tmp SQLite file; the slow ones start a real
``bordergate backend`` process (uvicorn on loopback) and talk to it over raw sockets and
websockets, because slowloris and frame limits live in the server, not the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import text

from backend.auth.roles import Role
from backend.auth.sessions import SESSION_COOKIE
from backend.records.store import RecordsStore
from tests.auth_helpers import TEST_PASSWORD, add_user, device_headers, register_device_for
from tests.backend.conftest import clearance_body, count_rows, make_settings, running
from tests.backend.cruise.conftest import manifest_body, member
from tests.backend.referrals.conftest import b64, jpeg, kiosk_report
from tests.conftest import ReliabilityCase, free_port
from tests.processes import part_env, start_part, stop_part, wait_http_ok

pytestmark = pytest.mark.reliability("hostile")

Backend = tuple[FastAPI, httpx.AsyncClient]


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    async with running(make_settings(tmp_path), fakeredis.FakeServer()) as pair:
        yield pair


def _error(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    assert body["message"], body  # every refusal says why
    return str(body["error"])


# --- sizes ------------------------------------------------------------------------------------


async def test_oversized_bodies_are_refused_before_parsing(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    limit = app.state.settings.max_body_bytes
    reliability_case.injects(
        f"POST /v1/clearances bodies over the {limit}-byte limit: one declaring its length "
        "(1 MB), one streamed chunked without Content-Length (1 MB in 8 KiB chunks), and one "
        "declaring a small length"
    )
    big = json.dumps(clearance_body(detail="x" * 1_000_000)).encode()
    declared = await client.post(
        "/v1/clearances", content=big, headers={"Content-Type": "application/json"}
    )
    sent_chunks = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        for start in range(0, len(big), 8192):
            sent_chunks += 1
            yield big[start : start + 8192]

    streamed = await client.post(
        "/v1/clearances", content=chunks(), headers={"Content-Type": "application/json"}
    )
    bad_length = await client.post(
        "/v1/clearances",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "ten"},
    )
    assert declared.status_code == 413
    assert _error(declared) == "body_too_large"
    assert streamed.status_code == 413
    assert _error(streamed) == "body_too_large"
    assert "transfer-encoding" in streamed.request.headers
    assert bad_length.status_code == 400
    assert count_rows(app, "clearances") == 0
    reliability_case.measured("body limit", limit, "bytes")
    reliability_case.measured("chunks read of the streamed body before 413", sent_chunks)
    reliability_case.asserts(
        "413 body_too_large for both (the streamed one counted as it arrived), 400 for an "
        "unreadable Content-Length; no clearance recorded"
    )


async def test_photo_uploads_are_capped_per_route_and_per_photo(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    store: RecordsStore = app.state.records
    kiosk = device_headers(store, "airport", "A-01")
    route_limit = app.state.settings.max_referral_photos_bytes
    reliability_case.injects(
        f"PUT /v1/referrals/ID/photos: a body over the route's {route_limit}-byte limit, one "
        "photo over the 256 KiB per-photo limit, random bytes posing as a JPEG, and a real JPEG"
    )
    opened = await client.post("/v1/referrals", json=kiosk_report(), headers=kiosk)
    assert opened.status_code == 201, opened.text
    url = f"/v1/referrals/{opened.json()['referral_id']}/photos"
    too_big = await client.put(url, json={"live": "A" * (route_limit + 10)}, headers=kiosk)
    one_too_big = await client.put(url, json={"live": b64(b"\xff" * 300_000)}, headers=kiosk)
    not_jpeg = await client.put(url, json={"live": b64(b"\xff\xd8" + bytes(5000))}, headers=kiosk)
    kept_before = await app.state.redis.keys("*photo*")
    ok = await client.put(url, json={"live": b64(jpeg())}, headers=kiosk)
    assert too_big.status_code == 413
    assert _error(too_big) == "body_too_large"
    assert one_too_big.status_code == 422
    assert not_jpeg.status_code == 422
    assert "photo rejected" in not_jpeg.json()["message"]
    assert kept_before == []
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"stored": ["live"]}
    reliability_case.measured("photo route limit", route_limit, "bytes")
    reliability_case.asserts(
        "413 over the route limit, 422 for an oversized photo and for bytes that are not a "
        "JPEG; nothing kept in Redis until a real JPEG is sent, which is stored"
    )


async def test_manifests_have_their_own_larger_limit(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    default, manifest_limit = (
        app.state.settings.max_body_bytes,
        app.state.settings.max_manifest_bytes,
    )
    reliability_case.injects(
        f"POST /v1/manifests: a 1,500-member ship list (over the {default}-byte default limit, "
        f"under the manifests' {manifest_limit}) and a body over the manifests' limit"
    )
    body = manifest_body()
    body["groups"] = [
        {"group_id": f"G{g}", "members": [member(f"M{g:03d}{m:03d}") for m in range(50)]}
        for g in range(30)
    ]
    size = len(json.dumps(body))
    ship = await client.post("/v1/manifests", json=body)
    huge = await client.post(
        "/v1/manifests",
        content=b'{"groups": [' + b" " * (manifest_limit + 1) + b"]}",
        headers={"Content-Type": "application/json"},
    )
    assert size > default
    assert ship.status_code == 201, ship.text
    assert ship.json()["members"] == 1500
    assert huge.status_code == 413
    assert count_rows(app, "cruise_manifests") == 1
    reliability_case.measured("ship list accepted", size, "bytes")
    reliability_case.asserts(
        "the ship list is stored (201, 1,500 members); the body over the manifests' limit is "
        "refused with 413 and stores nothing"
    )


# --- shapes -----------------------------------------------------------------------------------

MALFORMED: dict[str, bytes] = {
    "truncated JSON": b'{"request_id": "',
    "not UTF-8": b"\xff\xfe{\x00}",
    "empty body": b"",
    "JSON null": b"null",
    "a JSON list": b"[]",
    "NaN": b'{"face": {"score": NaN}}',
    "nested 30,000 deep": b"[" * 30_000 + b"]" * 30_000,
    "trailing garbage": json.dumps(clearance_body()).encode() + b"}}",
}


async def test_malformed_json_gets_422_and_records_nothing(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    reliability_case.injects(
        "POST /v1/clearances, /v1/referrals and /v1/manifests with malformed bodies: "
        + ", ".join(MALFORMED)
    )
    kiosk = device_headers(app.state.records, "airport", "A-01")
    answers: dict[str, set[int]] = {}
    for name, raw in MALFORMED.items():
        for path, auth in (
            ("/v1/clearances", kiosk),
            ("/v1/referrals", kiosk),
            ("/v1/manifests", {}),  # the client adds a manifests feed token
        ):
            response = await client.post(
                path, content=raw, headers={"Content-Type": "application/json", **auth}
            )
            answers.setdefault(name, set()).add(response.status_code)
            assert response.status_code == 422, (name, path, response.text)
            assert _error(response) in ("malformed_json", "invalid_request")
    assert count_rows(app, "clearances") == 0
    assert count_rows(app, "referrals") == 0
    assert count_rows(app, "cruise_manifests") == 0
    reliability_case.asserts(
        "422 (malformed_json or invalid_request, with a message) for every one of them on every "
        "route; no clearance, referral or manifest recorded"
    )


UNKNOWN_COUNTRIES = ("ZZZ", "QQ", "U5A", "U<A", "AAA", "")


async def test_unknown_countries_are_refused_by_name(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    reliability_case.injects(
        "clearances, referrals and manifests whose nationality or issuing state is not an ICAO "
        f"code: {', '.join(repr(c) for c in UNKNOWN_COUNTRIES)}"
    )
    kiosk = device_headers(app.state.records, "airport", "A-01")
    for code in UNKNOWN_COUNTRIES:
        clearance = await client.post(
            "/v1/clearances", json=clearance_body(document={"nationality": code})
        )
        state = await client.post(
            "/v1/clearances", json=clearance_body(document={"issuing_state": code})
        )
        report = kiosk_report()
        report["document"]["nationality"] = code
        referral = await client.post("/v1/referrals", json=report, headers=kiosk)
        manifest = manifest_body()
        manifest["groups"][0]["members"][0]["nationality"] = code
        filed = await client.post("/v1/manifests", json=manifest)
        for response, field in (
            (clearance, "nationality"),
            (state, "issuing_state"),
            (referral, "nationality"),
            (filed, "nationality"),
        ):
            assert response.status_code == 422, (code, response.text)
            assert field in json.dumps(response.json()["detail"]), response.text
    assert count_rows(app, "clearances") == 0
    assert count_rows(app, "cruise_manifests") == 0
    reliability_case.asserts("422 naming the field for each; no clearance or manifest recorded")


async def test_arrival_times_at_the_calendars_ends_are_refused(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    """Found by fuzzing: these used to overflow the policy clock (500)."""
    app, client = backend
    instants = ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+14:00", "1999-12-31T23:00:00Z")
    reliability_case.injects(f"clearances arriving at {', '.join(instants)}")
    for at in instants:
        response = await client.post("/v1/clearances", json=clearance_body(arrival_time=at))
        assert response.status_code == 422, response.text
        assert "arrival_time" in json.dumps(response.json()["detail"])
    assert count_rows(app, "clearances") == 0
    reliability_case.asserts("422 naming arrival_time (the kiosk's clock is broken); no record")


async def test_a_replayed_request_is_recorded_once(
    backend: Backend, reliability_case: ReliabilityCase
) -> None:
    app, client = backend
    reliability_case.injects(
        "the same clearance request_id sent again, 20 more times concurrently, and once with a "
        "different body; the same referral request_id reported twice"
    )
    body = clearance_body()
    first = await client.post("/v1/clearances", json=body)
    again = await client.post("/v1/clearances", json=body)
    burst = await asyncio.gather(*(client.post("/v1/clearances", json=body) for _ in range(20)))
    changed = await client.post("/v1/clearances", json={**body, "lane_id": "A-02"})
    changed_face = await client.post(
        "/v1/clearances", json={**body, "face": {**body["face"], "score": 0.5}}
    )
    kiosk = device_headers(app.state.records, "airport", "A-01")
    report = kiosk_report()
    opened = await client.post("/v1/referrals", json=report, headers=kiosk)
    reopened = await client.post("/v1/referrals", json=report, headers=kiosk)
    assert first.status_code == 200, first.text
    ids = {r.json()["clearance_id"] for r in (first, again, *burst)}
    assert ids == {first.json()["clearance_id"]}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert {r.status_code for r in burst} == {200}
    assert changed.status_code in (403, 409)  # another lane's token, or the same id reused
    assert changed_face.status_code == 409
    assert _error(changed_face) == "request_id_conflict"
    assert count_rows(app, "clearances") == 1
    assert (opened.status_code, reopened.status_code) == (201, 200)
    assert opened.json()["referral_id"] == reopened.json()["referral_id"]
    reliability_case.measured("clearance rows after 23 sends", count_rows(app, "clearances"))
    reliability_case.asserts(
        "one clearance recorded; every replay answers the recorded decision (header "
        "Idempotent-Replayed: true); a different body under the same id is 409; the referral "
        "report replayed answers the open referral (200), not a second one"
    )


# --- slow clients and websocket floods, against a real uvicorn process --------------------------

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 2.0
WS_MAX_BYTES = 64 * 1024


class BackendProcess:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.database_url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
        env = part_env(
            BORDERGATE_PORT=str(self.port),
            BORDERGATE_DATABASE_URL=self.database_url,
            BORDERGATE_REQUEST_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
            BORDERGATE_REQUEST_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
            BORDERGATE_WS_MAX_MESSAGE_BYTES=str(WS_MAX_BYTES),
        )
        self.proc = start_part(["backend"], env, tmp_path / "backend.log")
        wait_http_ok(f"{self.url}/healthz", self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def healthy(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def sign_in(self, username: str, role: Role) -> str:
        store = RecordsStore(self.database_url)
        try:
            add_user(store, username, role)
        finally:
            store.dispose()
        response = httpx.post(
            f"{self.url}/v1/auth/login", json={"username": username, "password": TEST_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return response.cookies[SESSION_COOKIE]

    def clearances(self) -> int:
        store = RecordsStore(self.database_url)
        try:
            with store.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM clearances")).scalar_one())
        finally:
            store.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackendProcess]:
    process = BackendProcess(tmp_path)
    try:
        yield process
    finally:
        stop_part(process.proc)


def _held_for(
    sock: socket.socket, dribble: bytes, step_s: float, give_up_s: float
) -> tuple[float, bytes]:
    """Send ``dribble`` one byte per ``step_s`` until the server closes; (seconds held, reply)."""
    sock.settimeout(step_s)
    started = time.monotonic()
    reply = b""
    sent = 0
    while time.monotonic() - started < give_up_s:
        if sent < len(dribble):
            try:
                sock.send(dribble[sent : sent + 1])
            except OSError:
                break
            sent += 1
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data:
            break
        reply += data
    return time.monotonic() - started, reply


SLOW_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200


@pytest.mark.slow
def test_slow_headers_are_cut_off_and_others_are_served(
    server: BackendProcess, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        "slowloris against a real backend process (header deadline "
        f"{HEADER_TIMEOUT_S:g} s): a connection that sends nothing, one that dribbles its headers "
        "a byte every 0.25 s, one that dribbles a second request after a first one, and one "
        "that sends 20 KiB of unfinished headers; a normal client meanwhile"
    )
    give_up = HEADER_TIMEOUT_S + 6
    silent, _ = _held_for(server.connect(), b"", 0.25, give_up)
    dribbled, _ = _held_for(server.connect(), SLOW_REQUEST, 0.25, give_up)
    kept = server.connect()
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = kept.recv(4096)
    second, _ = _held_for(kept, SLOW_REQUEST, 0.25, give_up)
    with server.connect() as huge:
        # Unfinished: h11 refuses once the incomplete head passes 16 KiB.
        huge.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        _, refused = _held_for(huge, b"", 0.25, give_up)
    served = server.healthy()
    assert first.startswith(b"HTTP/1.1 200")
    for held in (silent, dribbled, second):
        assert held < HEADER_TIMEOUT_S + 1.5, (silent, dribbled, second)
    assert refused.split(b" ", 2)[1] in (b"400", b"431"), refused[:80]
    assert served
    reliability_case.measured("silent connection held", round(silent, 2), "s")
    reliability_case.measured("dribbled headers held", round(dribbled, 2), "s")
    reliability_case.measured("dribbled second request held", round(second, 2), "s")
    reliability_case.asserts(
        "each slow connection is closed within the header deadline (plus a second); 20 KiB of "
        "headers are refused (400/431); a normal client is served throughout"
    )


@pytest.mark.slow
def test_a_dribbled_body_gets_408_and_records_nothing(
    server: BackendProcess, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"POST /v1/clearances whose 400-byte body is sent one byte every 0.25 s (body deadline "
        f"{BODY_TIMEOUT_S:g} s), with a valid device token"
    )
    token = register_device_for(server.database_url, "airport", "A-01")
    head = (
        "POST /v1/clearances HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 400\r\n\r\n"
    ).encode()
    sock = server.connect()
    sock.sendall(head)
    held, reply = _held_for(sock, b"{" + b" " * 399, 0.25, BODY_TIMEOUT_S + 6)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:120]
    assert b"body_timeout" in reply
    assert held < BODY_TIMEOUT_S + 1.5
    assert server.clearances() == 0
    assert server.healthy()
    reliability_case.measured("dribbled body held", round(held, 2), "s")
    reliability_case.asserts(
        "408 body_timeout at the deadline, the connection closed, no clearance recorded"
    )


async def _next(ws: Any, kind_key: str, kind: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        )
        if message.get(kind_key) == kind:
            return message


async def _closed_with(ws: Any, timeout_s: float = 10) -> int | None:
    """Read (and drop) what the server sends until it closes the socket; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout_s)
    except websockets.ConnectionClosed as closed:
        return None if closed.rcvd is None else int(closed.rcvd.code)


@pytest.mark.slow
async def test_websocket_floods_and_huge_frames_leave_other_pages_live(
    server: BackendProcess, reliability_case: ReliabilityCase
) -> None:
    reliability_case.injects(
        f"on /ws/console (hall airport): one signed-in socket sends a {WS_MAX_BYTES * 16 // 1024} "
        f"KiB message (limit {WS_MAX_BYTES // 1024} KiB), another floods 5,000 1 KiB messages as "
        "fast as it can, while a third officer's page waits for a new referral; on "
        "/ws/dashboard a manager's socket sends a huge message too"
    )
    officer = await asyncio.to_thread(server.sign_in, "olga", Role.OFFICER)
    manager = await asyncio.to_thread(server.sign_in, "mia", Role.MANAGER)
    ws_url = server.url.replace("http", "ws")
    console = f"{ws_url}/ws/console?hall=airport"
    cookie = {"Cookie": f"{SESSION_COOKIE}={officer}"}
    token = await asyncio.to_thread(register_device_for, server.database_url, "airport", "A-01")
    async with (
        websockets.connect(console, additional_headers=cookie) as victim,
        websockets.connect(console, additional_headers=cookie) as flooder,
        websockets.connect(console, additional_headers=cookie) as giant,
        websockets.connect(
            f"{ws_url}/ws/dashboard", additional_headers={"Cookie": f"{SESSION_COOKIE}={manager}"}
        ) as dashboard,
    ):
        await _next(victim, "type", "snapshot", 10)
        await giant.send("x" * (WS_MAX_BYTES * 16))
        giant_code = await _closed_with(giant)
        await dashboard.send("y" * (WS_MAX_BYTES * 16))
        dashboard_code = await _closed_with(dashboard)

        async def flood() -> int:
            sent = 0
            with contextlib.suppress(websockets.ConnectionClosed):
                for _ in range(5000):
                    await flooder.send("z" * 1024)
                    sent += 1
            return sent

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.2)
        reported = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url) as http:
            opened = await http.post(
                "/v1/referrals",
                json=kiosk_report(),
                headers={"Authorization": f"Bearer {token}"},
            )
        assert opened.status_code == 201, opened.text
        seen = await _next(victim, "type", "referral.opened", 15)
        latency = time.monotonic() - reported
        sent = await asyncio.wait_for(flooding, 60)
    assert giant_code == 1009
    assert dashboard_code == 1009
    assert seen["referral"]["referral_id"] == opened.json()["referral_id"]
    assert await asyncio.to_thread(server.healthy)
    reliability_case.measured("flood messages sent", sent)
    reliability_case.measured(
        "referral reached the other officer during the flood in", round(latency, 2), "s"
    )
    reliability_case.asserts(
        "the huge messages close their own sockets with 1009 (message too big) on both "
        "websockets; the flood does not stop the other officer's page from receiving the new "
        "referral, and the backend stays healthy"
    )
