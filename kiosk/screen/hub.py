"""The screen hub: the kiosk's session updates in, the traveller page's views out.

The session calls :meth:`ScreenHub.observe` synchronously on the event loop (it is a
``SessionObserver``); each connected page has a small queue the hub fills without waiting. A slow
page loses intermediate views, never the latest one.

Guarded on the session id: an update from a session that has ended (or was superseded by the next
traveller's) is dropped, and each new session starts from a blank view, so the page never shows
another traveller's data. When a session returns to idle the screen resets to the welcome view,
after showing the result for ``result_hold_s`` so the traveller can read it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import tzinfo
from zoneinfo import ZoneInfo

import structlog

from kiosk.screen.languages import language_for
from kiosk.screen.view import ScreenView, guidance_key, idle_view, view_for
from kiosk.session import SessionState, SessionUpdate
from kiosk.settings import KioskSettings

log = structlog.get_logger(__name__)

SUBSCRIBER_QUEUE = 8
"""Views buffered per page; past that the oldest is dropped."""
_RESULTS = frozenset({SessionState.GATE_OPEN, SessionState.REFER})
_ENDED_REMEMBERED = 64

Subscription = asyncio.Queue[ScreenView | None]
"""A page's feed; None means the hub closed."""


class LaneScreen:
    """The screen of one lane: the view shown now and the pages watching it."""

    def __init__(self, lane_id: str, desk: str, zone: tzinfo, result_hold_s: float = 0.0) -> None:
        self.lane_id = lane_id
        self.desk = desk
        self.zone = zone
        self.result_hold_s = result_hold_s
        self._live = idle_view(lane_id, desk)
        """The view of the session as it is now."""
        self._held: ScreenView | None = None
        """A finished session's result, kept on screen until the hold timer fires."""
        self._hold_timer: asyncio.TimerHandle | None = None
        self._shown = self._live
        self._ended: deque[str] = deque(maxlen=_ENDED_REMEMBERED)
        self._subscribers: set[Subscription] = set()
        self._closed = False

    @property
    def view(self) -> ScreenView:
        """What the page shows now."""
        return self._shown

    @property
    def holding(self) -> bool:
        return self._held is not None

    # -- updates in ----------------------------------------------------------------------------

    def update(self, update: SessionUpdate) -> None:
        if update.lane_id != self.lane_id:
            raise ValueError(f"update for lane {update.lane_id} sent to lane {self.lane_id}")
        if update.session_id in self._ended:
            return  # a late update from a finished transaction: never shown
        live = self._live
        if update.state is SessionState.IDLE:
            self._ended.append(update.session_id)
            if live.session_id != update.session_id:
                return
            self._live = idle_view(self.lane_id, self.desk)
            if live.state in _RESULTS:
                self._hold(live)
        elif update.session_id != live.session_id:
            if live.session_id is not None:  # cut short without returning to idle
                self._ended.append(live.session_id)
            self._live = view_for(update, self.desk, self.zone)
        elif update.state is live.state:  # guidance within the step
            self._live = live.model_copy(
                update={
                    "prompt": guidance_key(update.prompt),
                    "language": language_for(update.nationality),
                }
            )
        else:
            self._live = view_for(update, self.desk, self.zone)
        self._publish()

    def reset(self) -> None:
        """Back to the welcome view at once (the lane stopped)."""
        if self._live.session_id is not None:
            self._ended.append(self._live.session_id)
        self._live = idle_view(self.lane_id, self.desk)
        self._release()

    def _hold(self, result: ScreenView) -> None:
        if self.result_hold_s <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to time the hold: reset at once
            return
        self._cancel_timer()
        self._held = result
        self._hold_timer = loop.call_later(self.result_hold_s, self._release)

    def _release(self) -> None:
        self._cancel_timer()
        self._held = None
        self._publish()

    def _cancel_timer(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    # -- views out -----------------------------------------------------------------------------

    def _publish(self) -> None:
        target = self._held if self._held is not None else self._live
        if target == self._shown.model_copy(update={"seq": target.seq}):
            return
        self._shown = target.model_copy(update={"seq": self._shown.seq + 1})
        for queue in self._subscribers:
            _put_latest(queue, self._shown)

    def subscribe(self) -> Subscription:
        """A feed of views, starting with the current one."""
        queue: Subscription = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        queue.put_nowait(None if self._closed else self._shown)
        if not self._closed:
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: Subscription) -> None:
        self._subscribers.discard(queue)

    @property
    def watchers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every feed (the server is stopping)."""
        self._cancel_timer()
        self._closed = True
        for queue in self._subscribers:
            _put_latest(queue, None)
        self._subscribers.clear()


def _put_latest(queue: Subscription, item: ScreenView | None) -> None:
    while True:
        try:
            queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            queue.get_nowait()


class ScreenHub:
    """The screens of the lanes one server shows (one lane for a kiosk, all for the demo)."""

    def __init__(self) -> None:
        self.lanes: dict[str, LaneScreen] = {}

    def add_lane(
        self, lane_id: str, desk: str, zone: tzinfo, result_hold_s: float = 0.0
    ) -> LaneScreen:
        if lane_id in self.lanes:
            raise ValueError(f"lane {lane_id} already has a screen")
        screen = LaneScreen(lane_id, desk, zone, result_hold_s)
        self.lanes[lane_id] = screen
        return screen

    def add_kiosk(self, settings: KioskSettings) -> LaneScreen:
        """The screen of the kiosk ``settings`` describe (desk, time zone, result hold)."""
        return self.add_lane(
            settings.lane_id,
            settings.officer_desk,
            ZoneInfo(settings.screen_timezone),
            settings.scaled(settings.screen_result_hold_s),
        )

    def observe(self, update: SessionUpdate) -> None:
        """The session observer: route the update to its lane's screen."""
        screen = self.lanes.get(update.lane_id)
        if screen is None:
            log.warning("session update for a lane without a screen", lane_id=update.lane_id)
            return
        screen.update(update)

    def close(self) -> None:
        for screen in self.lanes.values():
            screen.close()
