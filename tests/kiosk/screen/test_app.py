"""The screen's web app: the page, the table, and the live feed over a websocket."""

from __future__ import annotations

import asyncio
import json
import socket
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bordergate.contracts import ReasonCode
from kiosk.screen.app import create_screen_app
from kiosk.screen.hub import ScreenHub
from kiosk.screen.server import ScreenServerError, serve_screens
from kiosk.session import SessionState
from tests.kiosk.screen.conftest import Updates

CST = ZoneInfo("Asia/Shanghai")
S = SessionState


def two_lane_hub() -> ScreenHub:
    hub = ScreenHub()
    hub.add_lane("A1", "3", CST)
    hub.add_lane("A2", "4", CST)
    return hub


def test_pages_index_and_table() -> None:
    client = TestClient(create_screen_app(two_lane_hub()))
    index = client.get("/lanes/")
    assert index.status_code == 200
    assert 'href="/lanes/A1"' in index.text
    assert 'href="/lanes/A2"' in index.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/lanes/"
    page = client.get("/lanes/A1")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "/static/screen.js" in page.text
    assert client.get("/static/screen.js").status_code == 200
    assert client.get("/static/screen.css").status_code == 200
    assert client.get("/lanes/Z9").status_code == 404
    assert client.get("/lanes/A1/view").json()["state"] == "idle"
    table = client.get("/i18n.json").json()
    assert table["texts"]["welcome"]["ja"] == "ようこそ"


def test_one_lane_server_sends_its_root_to_the_page() -> None:
    hub = ScreenHub()
    hub.add_lane("B2", "1", CST)
    client = TestClient(create_screen_app(hub))
    assert client.get("/", follow_redirects=False).headers["location"] == "/lanes/B2"


def test_the_websocket_sends_the_current_view_then_updates() -> None:
    hub = two_lane_hub()
    u = Updates("s1", lane_id="A1")
    u.nationality = "CHN"
    hub.observe(u.state(S.DOCUMENT))
    client = TestClient(create_screen_app(hub))
    with client.websocket_connect("/ws/lanes/A1") as ws:
        first = ws.receive_json()
        assert (first["state"], first["session_id"]) == ("document", "s1")
        # The app runs in the session's own loop: feed the hub there, as the kiosk would.
        ws.portal.call(hub.observe, u.state(S.FACE))  # type: ignore[union-attr]
        face = ws.receive_json()
        assert (face["state"], face["language"], face["seq"]) == ("face", "zh", first["seq"] + 1)
        ws.portal.call(hub.observe, u.refer(ReasonCode.FACE_MISMATCH))  # type: ignore[union-attr]
        refer = ws.receive_json()
        assert refer["reasons"] == ["reason.face-mismatch"]
        assert refer["desk"] == "3"
        assert "CHN" not in json.dumps(refer)
        ws.portal.call(hub.observe, u.state(S.IDLE))  # type: ignore[union-attr]
        idle = ws.receive_json()
        assert (idle["state"], idle["session_id"], idle["reasons"]) == ("idle", None, [])


def test_the_websocket_refuses_an_unknown_lane() -> None:
    client = TestClient(create_screen_app(two_lane_hub()))
    with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect("/ws/lanes/Z9"):
        pass
    assert caught.value.code == 4404


async def test_a_real_server_on_a_free_port_feeds_several_pages_and_stops_them() -> None:
    hub = two_lane_hub()
    async with serve_screens(hub, "127.0.0.1", 0) as base:
        port = int(base.rsplit(":", 1)[1])
        assert port > 0
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok", "lanes": ["A1", "A2"]}
        ws_url = base.replace("http://", "ws://") + "/ws/lanes/A2"
        async with websockets.connect(ws_url) as one, websockets.connect(ws_url) as two:
            for page in (one, two):
                assert json.loads(await page.recv())["state"] == "idle"
            await asyncio.sleep(0.05)
            assert hub.lanes["A2"].watchers == 2
            u = Updates("s9", lane_id="A2")
            hub.observe(u.state(S.DOCUMENT))
            for page in (one, two):
                assert json.loads(await page.recv())["session_id"] == "s9"
            await two.close()
            for _ in range(100):
                if hub.lanes["A2"].watchers == 1:
                    break
                await asyncio.sleep(0.02)
            assert hub.lanes["A2"].watchers == 1  # a page that went away is forgotten
            hub.observe(u.state(S.FACE))
            assert json.loads(await one.recv())["state"] == "face"
            leaving = one
    # The server stopped: the page's feed was closed, not left hanging.
    assert leaving.close_code == 1001 or leaving.close_code is not None


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ScreenServerError, match=f"127.0.0.1:{port}"):
            async with serve_screens(two_lane_hub(), "127.0.0.1", port):
                pass
