"""What the traveller's screen shows: a view model built from the session's updates.

The view carries only what the screen needs; no name, no document number, no nationality, no
image. Reasons become traveller-facing translation keys; the permitted stay becomes the last day
the traveller may stay, in the port's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

import structlog
from pydantic import BaseModel, ConfigDict

from bordergate.contracts import ReasonCode
from kiosk.screen.languages import language_for
from kiosk.screen.translations import DEFAULT_LANGUAGE, GUIDANCE_KEYS, REASON_KEYS
from kiosk.session import MESSAGE_KEYS, SessionState, SessionUpdate

log = structlog.get_logger(__name__)


class ScreenView(BaseModel):
    """One screenful, as pushed to the page (JSON)."""

    model_config = ConfigDict(frozen=True)

    lane_id: str
    desk: str
    """The officer desk a referred traveller goes to."""
    session_id: str | None = None
    """Whose transaction this is (None when idle): the page drops its language choice when it
    changes, so a choice never carries over to the next traveller."""
    state: SessionState = SessionState.IDLE
    message_key: str = MESSAGE_KEYS[SessionState.IDLE]
    prompt: str | None = None
    """A guidance key from the translation table (an unknown key is not shown)."""
    reasons: list[str] = []
    """Traveller-facing reason keys (``reason.*``), without repeats."""
    stay_until: date | None = None
    """The last day of the permitted stay (the stay ends at the next midnight)."""
    language: str = DEFAULT_LANGUAGE
    """Chosen from the passport's nationality; the traveller may switch on the page."""
    seq: int = 0
    """Increases with every view pushed on this lane."""


def idle_view(lane_id: str, desk: str) -> ScreenView:
    return ScreenView(lane_id=lane_id, desk=desk)


def reason_keys(reasons: list[ReasonCode]) -> list[str]:
    keys: list[str] = []
    for reason in reasons:
        key = REASON_KEYS[reason]
        if key not in keys:
            keys.append(key)
    return keys


def guidance_key(prompt: str | None) -> str | None:
    if prompt is None or prompt in GUIDANCE_KEYS:
        return prompt
    log.warning("screen guidance key without a translation", prompt=prompt)
    return None


def last_day(permitted_until: datetime | None, zone: tzinfo) -> date | None:
    """The last calendar day of a stay that ends (exclusive) at ``permitted_until``."""
    if permitted_until is None:
        return None
    return (permitted_until.astimezone(zone) - timedelta(microseconds=1)).date()


def view_for(update: SessionUpdate, desk: str, zone: tzinfo) -> ScreenView:
    """The whole view for a state change (nothing is carried over from an earlier view)."""
    if update.state is SessionState.IDLE:
        return idle_view(update.lane_id, desk)
    return ScreenView(
        lane_id=update.lane_id,
        desk=desk,
        session_id=update.session_id,
        state=update.state,
        message_key=update.message_key,
        prompt=guidance_key(update.prompt),
        reasons=reason_keys(update.reasons) if update.state is SessionState.REFER else [],
        stay_until=(
            last_day(update.permitted_until, zone)
            if update.state is SessionState.GATE_OPEN
            else None
        ),
        language=language_for(update.nationality),
    )
