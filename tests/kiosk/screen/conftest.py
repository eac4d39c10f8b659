"""Session updates as the kiosk sends them, for the screen tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bordergate.contracts import Outcome, ReasonCode
from kiosk.session import MESSAGE_KEYS, SessionState, SessionUpdate


class Updates:
    """SessionUpdates of one session on one lane, built the way KioskSession builds them."""

    def __init__(self, session_id: str, lane_id: str = "T1") -> None:
        self.session_id = session_id
        self.lane_id = lane_id
        self.nationality: str | None = None
        self.permitted_until: datetime | None = None

    def state(self, state: SessionState, **extra: Any) -> SessionUpdate:
        return SessionUpdate(
            lane_id=self.lane_id,
            session_id=self.session_id,
            state=state,
            message_key=MESSAGE_KEYS[state],
            at=datetime.now(UTC),
            nationality=self.nationality,
            permitted_until=self.permitted_until,
            **extra,
        )

    def prompt(self, state: SessionState, key: str | None) -> SessionUpdate:
        return SessionUpdate(
            lane_id=self.lane_id,
            session_id=self.session_id,
            state=state,
            message_key=MESSAGE_KEYS[state],
            at=datetime.now(UTC),
            nationality=self.nationality,
            prompt=key,
        )

    def refer(self, *reasons: ReasonCode) -> SessionUpdate:
        return self.state(SessionState.REFER, outcome=Outcome.REFER, reasons=list(reasons))

    def admit(self) -> SessionUpdate:
        return self.state(SessionState.GATE_OPEN, outcome=Outcome.ADMIT)
