"""The screen hub and its view model: what the page is told, and what it is never told."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from bordergate.contracts import ReasonCode
from hardware_mocks.crowd import HallCrowd
from hardware_mocks.lane import MockLane
from hardware_mocks.travellers import TravellerFactory
from kiosk.runner import fan_out, run_lane
from kiosk.screen.hub import SUBSCRIBER_QUEUE, LaneScreen, ScreenHub
from kiosk.screen.view import ScreenView, last_day
from kiosk.session import SessionState, SessionUpdate
from kiosk.settings import KioskSettings
from tests.kiosk.conftest import NO_SURPRISES, FakeVerifier, RecordingBackend, wait_until
from tests.kiosk.screen.conftest import Updates

CST = ZoneInfo("Asia/Shanghai")
S = SessionState


def lane(hold_s: float = 0.0) -> LaneScreen:
    return LaneScreen("T1", "3", CST, hold_s)


def feed(screen: LaneScreen, *updates: SessionUpdate) -> ScreenView:
    for update in updates:
        screen.update(update)
    return screen.view


def test_a_new_lane_shows_the_welcome() -> None:
    view = lane().view
    assert (view.state, view.message_key, view.session_id) == (S.IDLE, "welcome", None)
    assert view.language == "en"
    assert view.desk == "3"


def test_an_admitted_traveller_in_their_language_then_reset_at_idle() -> None:
    screen = lane()
    jp = Updates("s1")
    assert feed(screen, jp.state(S.DOCUMENT)).language == "en"  # nationality not read yet
    jp.nationality = "JPN"
    view = feed(screen, jp.state(S.FACE))
    assert (view.state, view.message_key, view.language) == (S.FACE, "look_at_camera", "ja")
    assert feed(screen, jp.prompt(S.FACE, "move_closer")).prompt == "move_closer"
    assert feed(screen, jp.prompt(S.FACE, "turn_left")).prompt == "turn_left"
    assert feed(screen, jp.prompt(S.FACE, None)).prompt is None
    feed(screen, jp.prompt(S.FACE, "hold_still"))
    view = feed(screen, jp.state(S.JOURNEY))
    assert view.prompt is None  # guidance belongs to its step
    assert view.message_key == "scan_onward_ticket"
    feed(screen, jp.state(S.DECISION))
    jp.permitted_until = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    view = feed(screen, jp.admit())
    assert view.state is S.GATE_OPEN
    assert view.stay_until == date(
        2026, 11, 30
    )  # the stay ends at midnight: the 30th is the last day
    assert view.language == "ja"
    view = feed(screen, jp.state(S.IDLE))
    assert view.model_dump(exclude={"seq"}) == ScreenView(lane_id="T1", desk="3").model_dump(
        exclude={"seq"}
    )


def test_a_referred_traveller_sees_plain_reason_keys() -> None:
    screen = lane()
    ru = Updates("s1")
    ru.nationality = "RUS"
    feed(screen, ru.state(S.DOCUMENT), ru.state(S.FACE), ru.state(S.DECISION))
    view = feed(
        screen,
        ru.refer(
            ReasonCode.FACE_MISMATCH, ReasonCode.RECORD_BARRED, ReasonCode.RECORD_VISA_REFUSAL
        ),
    )
    assert view.state is S.REFER
    assert view.message_key == "see_officer"
    assert view.reasons == ["reason.face-mismatch", "reason.officer_check"]
    assert view.language == "ru"
    assert view.desk == "3"


def test_the_view_carries_no_personal_data() -> None:
    screen = lane()
    u = Updates("s1")
    u.nationality = "JPN"
    u.permitted_until = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    feed(screen, u.state(S.DOCUMENT), u.state(S.FACE), u.state(S.DECISION))
    view = feed(screen, u.admit())
    assert set(ScreenView.model_fields) == {
        "lane_id", "desk", "session_id", "state", "message_key", "prompt", "reasons",
        "stay_until", "language", "seq",
    }  # fmt: skip
    text = view.model_dump_json()
    assert "JPN" not in text
    assert "nationality" not in text
    assert "2026-12-01" not in text  # only the last day, not the instant


def test_a_late_update_from_a_finished_session_is_never_shown() -> None:
    screen = lane()
    a, b = Updates("a"), Updates("b")
    a.nationality = "JPN"
    feed(screen, a.state(S.DOCUMENT), a.state(S.FACE), a.refer(ReasonCode.FACE_MISMATCH))
    feed(screen, a.state(S.IDLE))
    assert feed(screen, a.prompt(S.FACE, "move_closer")).state is S.IDLE
    b.nationality = "KOR"
    view = feed(screen, b.state(S.DOCUMENT), a.refer(ReasonCode.TIMEOUT))
    assert (view.session_id, view.state, view.reasons) == ("b", S.DOCUMENT, [])
    view = feed(screen, b.state(S.FACE))
    assert view.language == "ko"


def test_a_session_cut_short_is_replaced_by_the_next_from_a_blank_view() -> None:
    screen = lane()
    a, b = Updates("a"), Updates("b")
    a.nationality = "CHN"
    feed(screen, a.state(S.DOCUMENT), a.state(S.FACE), a.prompt(S.FACE, "one_person_only"))
    view = feed(screen, b.state(S.DOCUMENT))  # no idle from a: the lane was stopped mid-way
    assert (view.session_id, view.language, view.prompt) == ("b", "en", None)
    assert feed(screen, a.prompt(S.FACE, "hold_still")).session_id == "b"
    assert feed(screen, a.state(S.IDLE)).session_id == "b"


def test_a_reset_blanks_the_screen_and_ends_the_session() -> None:
    screen = lane()
    a = Updates("a")
    a.nationality = "JPN"
    feed(screen, a.state(S.DOCUMENT), a.state(S.FACE))
    screen.reset()  # the lane stopped mid-transaction
    assert (screen.view.state, screen.view.session_id, screen.view.language) == (S.IDLE, None, "en")
    assert feed(screen, a.prompt(S.FACE, "hold_still")).state is S.IDLE


def test_unknown_guidance_is_not_shown() -> None:
    screen = lane()
    u = Updates("s1")
    feed(screen, u.state(S.DOCUMENT), u.state(S.FACE))
    assert feed(screen, u.prompt(S.FACE, "<script>")).prompt is None
    assert feed(screen, u.prompt(S.FACE, "one_person_only")).prompt == "one_person_only"


def test_an_update_for_another_lane_is_refused() -> None:
    with pytest.raises(ValueError, match="lane"):
        lane().update(Updates("s1", lane_id="T2").state(S.DOCUMENT))


def test_the_hub_routes_by_lane_and_ignores_lanes_without_a_screen() -> None:
    hub = ScreenHub()
    one, two = hub.add_lane("A1", "1", CST), hub.add_lane("A2", "2", CST)
    hub.observe(Updates("x", lane_id="A2").state(S.DOCUMENT))
    hub.observe(Updates("y", lane_id="Z9").state(S.DOCUMENT))
    assert one.view.state is S.IDLE
    assert two.view.session_id == "x"
    with pytest.raises(ValueError, match="already"):
        hub.add_lane("A1", "1", CST)


def test_a_kiosks_settings_give_its_screen() -> None:
    settings = KioskSettings(lane_id="B7", officer_desk="12", speed=2.0, screen_result_hold_s=8)
    screen = ScreenHub().add_kiosk(settings)
    assert (screen.lane_id, screen.desk, screen.result_hold_s) == ("B7", "12", 4.0)


def test_last_day_of_a_stay() -> None:
    assert last_day(None, CST) is None
    assert last_day(datetime.fromisoformat("2026-12-01T00:00:00+08:00"), CST) == date(2026, 11, 30)
    assert last_day(datetime.fromisoformat("2026-11-30T16:00:00+00:00"), CST) == date(2026, 11, 30)
    assert last_day(datetime.fromisoformat("2026-11-30T18:30:00+08:00"), CST) == date(2026, 11, 30)


async def test_the_result_stays_readable_then_the_next_traveller_shows() -> None:
    screen = lane(hold_s=0.3)
    a, b = Updates("a"), Updates("b")
    feed(screen, a.state(S.DOCUMENT), a.state(S.FACE), a.refer(ReasonCode.TRAVELLER_LEFT))
    view = feed(screen, a.state(S.IDLE))
    assert view.state is S.REFER  # held for the traveller to read
    assert screen.holding
    view = feed(screen, b.state(S.DOCUMENT))
    assert view.session_id == "a"  # the next traveller waits for the hold
    await wait_until(lambda: not screen.holding, timeout_s=2)
    assert (screen.view.session_id, screen.view.state) == ("b", S.DOCUMENT)
    feed(screen, b.state(S.FACE), b.state(S.DECISION), b.admit(), b.state(S.IDLE))
    assert screen.view.state is S.GATE_OPEN
    await wait_until(lambda: screen.view.state is S.IDLE, timeout_s=2)
    assert screen.view.session_id is None


async def test_subscribers_get_the_current_view_then_each_new_one() -> None:
    screen = lane()
    feed_a = screen.subscribe()
    u = Updates("s1")
    first = feed_a.get_nowait()
    assert first is not None
    assert first.state is S.IDLE
    feed(screen, u.state(S.DOCUMENT), u.state(S.FACE))
    seen = [feed_a.get_nowait(), feed_a.get_nowait()]
    assert [v.state for v in seen if v is not None] == [S.DOCUMENT, S.FACE]
    assert [v.seq for v in seen if v is not None] == [first.seq + 1, first.seq + 2]
    late = screen.subscribe()
    assert late.get_nowait() == screen.view
    # A page that does not read loses the oldest views, never the latest.
    for i in range(SUBSCRIBER_QUEUE * 3):
        screen.update(u.prompt(S.FACE, "turn_left" if i % 2 else "turn_right"))
    assert late.qsize() == SUBSCRIBER_QUEUE
    *_, newest = [late.get_nowait() for _ in range(SUBSCRIBER_QUEUE)]
    assert newest == screen.view
    screen.unsubscribe(late)
    assert screen.watchers == 1
    screen.close()
    drained = [feed_a.get_nowait() for _ in range(feed_a.qsize())]
    assert drained[-1] is None  # the feed ends
    assert screen.subscribe().get_nowait() is None


def test_fan_out_calls_every_observer_even_after_one_fails() -> None:
    seen: list[str] = []

    def broken(update: SessionUpdate) -> None:
        raise RuntimeError("screen unplugged")

    observer = fan_out(broken, None, lambda u: seen.append(u.session_id))
    assert observer is not None
    with pytest.raises(RuntimeError, match="unplugged"):
        observer(Updates("s1").state(S.DOCUMENT))
    assert seen == ["s1"]
    assert fan_out(None, None) is None
    assert fan_out(broken) is broken


async def test_a_real_lane_drives_the_screen(
    fake_redis: Redis, settings: KioskSettings, faces_dir: Path
) -> None:
    """KioskSession's own updates through the runner: every step shown, then the welcome."""
    factory = TravellerFactory(seed=3, faces_dir=faces_dir, mix=NO_SURPRISES)
    crowd = HallCrowd(settings.hall, factory)
    traveller = next(t for t in iter(factory.next, None) if t.nationality == "KOR")
    crowd.add(traveller)
    hub = ScreenHub()
    screen = hub.add_kiosk(settings.model_copy(update={"screen_result_hold_s": 0.0}))
    views = screen.subscribe()
    updates: list[SessionUpdate] = []
    stop = asyncio.Event()
    async with RecordingBackend().client() as client, asyncio.TaskGroup() as tg:
        tg.create_task(crowd.run(stop))
        run = tg.create_task(
            run_lane(settings, fake_redis, crowd, FakeVerifier(), stop, backend=client,
                     lane=MockLane("T1", speed=settings.speed),
                     observer=fan_out(hub.observe, updates.append), max_travellers=1)
        )  # fmt: skip
        await run
        stop.set()
    shown = []
    while not views.empty():
        view = views.get_nowait()
        assert view is not None
        shown.append(view)
    assert [v.state for v in shown] == [
        S.IDLE, S.DOCUMENT, S.FACE, S.JOURNEY, S.DECISION, S.GATE_OPEN, S.IDLE,
    ]  # fmt: skip
    assert [v.language for v in shown[2:6]] == ["ko"] * 4
    assert {u.session_id for u in updates} == {shown[1].session_id}
    assert shown[-1].session_id is None
