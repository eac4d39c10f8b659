# ruff: noqa: RUF001  (Chinese texts with full-width punctuation)
"""The traveller's page in Debian's chromium (Playwright), against a real screen server.

One test drives the screen with the session's own update model (every screen, guidance, the
language switch, a second traveller, the page going offline); one runs a real lane (mock devices,
the real backend app, the kiosk runner) and watches a traveller clear and another be referred.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import fakeredis
import httpx
import pytest
from playwright.sync_api import expect

from bordergate.contracts import Hall, ReasonCode
from bordergate.redis_conn import open_redis
from hardware_mocks.crowd import HallCrowd
from hardware_mocks.travellers import Traveller, TravellerFactory
from kiosk.backend_client import BackendClient
from kiosk.runner import run_lane, simulated_documents
from kiosk.screen.hub import ScreenHub
from kiosk.screen.server import serve_screens
from kiosk.screen.view import last_day
from kiosk.session import SessionResult, SessionState
from kiosk.settings import KioskSettings
from tests.auth_helpers import device_token
from tests.backend.conftest import make_settings, running
from tests.browser import screenshot
from tests.kiosk.conftest import NO_SURPRISES, FakeVerifier, wait_until
from tests.kiosk.screen.conftest import Updates

pytestmark = [pytest.mark.slow, pytest.mark.browser]

T = TypeVar("T")
S = SessionState
CST = ZoneInfo("Asia/Shanghai")


class LoopThread:
    """An event loop in a thread: the servers run there while Playwright's sync API runs here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = AsyncExitStack()

    def run(self, coro: Awaitable[T], timeout_s: float = 30.0) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout_s)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn`` on the loop (as the session calls its observer) and wait for it."""

        async def call() -> None:
            fn(*args)

        self.run(call())

    def close(self) -> None:
        async def finish() -> None:
            await self.stack.aclose()
            # Whatever the servers left running ends here, inside the loop, before it closes.
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.run(finish())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    try:
        yield lt
    finally:
        lt.close()


def test_every_screen_guidance_language_switch_and_offline(
    loop_thread: LoopThread, page: Any
) -> None:
    hub = ScreenHub()
    hub.add_lane("A1", "3", CST)
    base = loop_thread.run(
        loop_thread.stack.enter_async_context(serve_screens(hub, "127.0.0.1", 0))
    )
    page.goto(f"{base}/lanes/A1")
    main = page.locator("main")
    page.wait_for_selector('main[data-state="idle"]')
    assert page.locator("section[data-screen=idle] h1").inner_text() == "Welcome"
    assert page.locator("#lane").inner_text() == "Gate A1"

    jp = Updates("s1", lane_id="A1")
    loop_thread.call(hub.observe, jp.state(S.DOCUMENT))
    page.wait_for_selector('main[data-state="document"]')
    assert "Place your passport" in main.inner_text()
    jp.nationality = "JPN"
    loop_thread.call(hub.observe, jp.state(S.FACE))
    page.wait_for_selector('html[lang="ja"] main[data-state="face"]')
    assert page.locator("section[data-screen=face] h1").inner_text() == "カメラを見てください"
    assert page.locator("#prompt").is_hidden()

    loop_thread.call(hub.observe, jp.prompt(S.FACE, "turn_left"))
    prompt = page.locator("#prompt-text")
    # expect() polls from here: the page's CSP forbids the eval behind wait_for_function.
    expect(prompt).to_have_text("顔を左に向けてください")
    assert page.locator("#prompt-icon").get_attribute("href") == "#icon-left"
    screenshot(page, "traveller_face_guidance")
    loop_thread.call(hub.observe, jp.prompt(S.FACE, "one_person_only"))
    expect(prompt).to_have_text(re.compile("^お一人ずつ"))
    loop_thread.call(hub.observe, jp.prompt(S.FACE, None))
    page.wait_for_selector("#prompt", state="hidden")

    loop_thread.call(hub.observe, jp.state(S.JOURNEY))
    page.wait_for_selector('main[data-state="journey"]')
    loop_thread.call(hub.observe, jp.state(S.DECISION))
    page.wait_for_selector('main[data-state="decision"]')
    jp.permitted_until = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    loop_thread.call(hub.observe, jp.admit())
    page.wait_for_selector('main[data-state="gate_open"]')
    assert page.locator("#stay").inner_text() == "2026年11月30日まで滞在できます"

    # One touch switches the language, for this traveller only.
    page.get_by_role("button", name="English").click()
    page.wait_for_selector('html[lang="en"]')
    assert page.locator("#stay").inner_text() == "You may stay until 30 November 2026"
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="日本語").get_attribute("aria-pressed") == "false"
    page.get_by_role("button", name="العربية").click()
    page.wait_for_selector('html[lang="ar"][dir="rtl"]')
    page.get_by_role("button", name="Русский").click()
    page.wait_for_selector('html[lang="ru"][dir="ltr"]')
    assert "30 ноября 2026" in page.locator("#stay").inner_text()

    loop_thread.call(hub.observe, jp.state(S.IDLE))
    page.wait_for_selector('main[data-state="idle"]')
    assert page.locator("#stay").inner_text() == ""  # nothing of the last traveller is left

    # The next traveller (Chinese) is shown in Chinese, not in the last one's choice.
    cn = Updates("s2", lane_id="A1")
    cn.nationality = "CHN"
    loop_thread.call(hub.observe, cn.state(S.DOCUMENT))
    loop_thread.call(hub.observe, cn.state(S.FACE))
    page.wait_for_selector('html[lang="zh"] main[data-state="face"]')
    loop_thread.call(hub.observe, cn.refer(ReasonCode.TIMEOUT))
    page.wait_for_selector('main[data-state="refer"]')
    assert page.locator("#refer-title").inner_text() == "请前往 3 号人工柜台"
    assert page.locator("#reasons li").all_inner_texts() == ["操作时间过长，检查已停止。"]
    assert page.locator("#stay").is_hidden()
    loop_thread.call(hub.observe, cn.state(S.IDLE))

    # Walked away, in English (a nationality without its own language).
    us = Updates("s3", lane_id="A1")
    us.nationality = "USA"
    for update in (us.state(S.DOCUMENT), us.state(S.FACE), us.refer(ReasonCode.TRAVELLER_LEFT)):
        loop_thread.call(hub.observe, update)
    page.wait_for_selector('html[lang="en"] main[data-state="refer"]')
    assert page.locator("#reasons li").all_inner_texts() == [
        "Your passport was taken off the reader, so the check was stopped."
    ]

    # The kiosk stops: the page hides everything and says so, then waits to reconnect.
    loop_thread.run(loop_thread.stack.aclose())
    page.wait_for_selector('main[data-state="offline"]')
    assert page.locator("#reasons").is_hidden()
    assert "not working" in main.inner_text()


def first_of(factory: TravellerFactory, nationality: str) -> Traveller:
    for _ in range(500):
        traveller = factory.next()
        if traveller.nationality == nationality:
            return traveller
    raise AssertionError(f"no {nationality} traveller in 500")


def test_a_real_lane_clears_one_traveller_and_refers_another(
    loop_thread: LoopThread, page: Any, tmp_path: Path, test_data_dir: Path
) -> None:
    faces = test_data_dir / "faces" / "lfw_crops"
    foreigners = TravellerFactory(seed=21, hall=Hall.AIRPORT, faces_dir=faces, mix=NO_SURPRISES)
    citizens = replace(NO_SURPRISES, citizens=1.0)
    japanese = first_of(foreigners, "JPN")
    chinese = first_of(
        TravellerFactory(seed=22, hall=Hall.AIRPORT, faces_dir=faces, mix=citizens), "CHN"
    )
    speed = 10.0
    settings = KioskSettings(
        lane_id="A1", hall=Hall.AIRPORT, speed=speed, officer_desk="3",
        screen_result_hold_s=8.0 * speed,  # 8 s on the wall clock to read the result
        backend_timeout_s=10.0, verify_timeout_s=10.0, idle_poll_s=0.05,
        heartbeat_interval_s=0.5, log_level="WARNING",
    )  # fmt: skip
    verifier = FakeVerifier(matched=True)
    results: list[SessionResult] = []
    stop = asyncio.Event()
    # No arrivals of its own (max_travellers=0): the test brings each traveller in.
    crowd = HallCrowd(Hall.AIRPORT, foreigners, speed=speed, max_travellers=0)
    hub = ScreenHub()
    hub.add_kiosk(settings)

    async def start() -> str:
        stack = loop_thread.stack
        embedded = fakeredis.FakeServer()
        app, _ = await stack.enter_async_context(running(make_settings(tmp_path), embedded))
        backend = BackendClient(
            "http://backend", settings.backend_timeout_s,
            transport=httpx.ASGITransport(app=app),
            device_token=device_token(app.state.records, "airport", "A1"),
        )  # fmt: skip
        stack.push_async_callback(backend.aclose)
        redis = open_redis(None, embedded)
        stack.push_async_callback(redis.aclose)
        base = await stack.enter_async_context(serve_screens(hub, "127.0.0.1", 0))
        documents = simulated_documents(tmp_path / "master-list")
        tasks = [
            asyncio.create_task(crowd.run(stop)),
            asyncio.create_task(
                run_lane(settings, redis, crowd, verifier, stop, backend=backend,
                         observer=hub.observe, on_result=results.append, documents=documents)
            ),
        ]  # fmt: skip

        async def stop_lane() -> None:
            stop.set()
            await asyncio.gather(*tasks)

        stack.push_async_callback(stop_lane)
        return base

    (tmp_path / "master-list").mkdir()
    base = loop_thread.run(start(), timeout_s=60)
    page.goto(f"{base}/lanes/A1")
    page.wait_for_selector('main[data-state="idle"]')

    loop_thread.call(crowd.add, japanese)
    page.wait_for_selector('main[data-state="gate_open"]', timeout=30_000)
    assert len(results) <= 1
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.locator("section[data-screen=gate_open] h1").inner_text() == (
        "ようこそ。ゲートをお通りください。"
    )
    expect(page.locator("#stay")).not_to_be_empty()
    stay = page.locator("#stay").inner_text()
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日まで滞在できます", stay), stay
    screenshot(page, "traveller_welcome")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector('html[lang="en"]')
    english_stay = page.locator("#stay").inner_text()
    assert english_stay.startswith("You may stay until ")
    loop_thread.run(wait_until(lambda: len(results) == 1, timeout_s=20))  # gate passed
    (admitted,) = results
    assert admitted.outcome == "admit"
    assert admitted.permitted_until is not None
    day = last_day(admitted.permitted_until, CST)
    assert day is not None
    assert stay == f"{day.year}年{day.month}月{day.day}日まで滞在できます"
    assert english_stay == f"You may stay until {day.day} {day:%B} {day.year}"

    verifier.matched = False  # the next face does not match its passport
    loop_thread.call(crowd.add, chinese)
    page.wait_for_selector('html[lang="zh"] main[data-state="refer"]', timeout=40_000)
    assert page.locator("#refer-title").inner_text() == "请前往 3 号人工柜台"
    assert "无法将您的面部与护照照片匹配。" in page.locator("#reasons li").all_inner_texts()
    assert page.locator("#stay").inner_text() == ""  # the last traveller's stay is gone
    screenshot(page, "traveller_refer")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector('html[lang="en"]')
    assert page.locator("#refer-title").inner_text() == "Please go to officer desk 3"
    assert "We could not match your face to your passport photo." in (
        page.locator("#reasons li").all_inner_texts()
    )
    loop_thread.run(wait_until(lambda: len(results) == 2, timeout_s=20))
    assert [r.outcome for r in results] == ["admit", "refer"]
    assert ReasonCode.FACE_MISMATCH in results[1].reasons
