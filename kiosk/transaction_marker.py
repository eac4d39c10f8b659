"""The in-progress marker: proof that a transaction was under way if the kiosk dies mid-way.

While a traveller is at the gate the session keeps one small JSON file per lane,
``<state_dir>/<lane>.transaction.json``, rewritten atomically at every step: the session id, lane,
hall, step, start time and, once sent, the clearance request id. Nothing of the traveller (no
document data, no image) is ever in it, so a dead kiosk leaves nothing personal behind. A clean
end of the session deletes it.

On start-up the kiosk adopts a leftover marker as *abandoned* (renamed to
``<lane>.abandoned.<session>.json``) and reports each abandoned one to the backend as a kiosk
referral with reason ``session-abandoned``: the officer learns that a traveller was left in the
lane, and the referral (closed by the officer's decision, which is audited) is the session's
record. The report's idempotency key is the clearance request id if one was sent (the backend
then answers the referral it may already hold for that clearance), else the session id, so a
report repeated after another crash never opens a second referral.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from bordergate.contracts import Hall, ReasonCode
from bordergate.referral_api import KioskReferral
from kiosk.backend_client import BackendClient, BackendClientError

log = structlog.get_logger(__name__)


class TransactionMarker(BaseModel):
    """What a marker holds: no personal or biometric data, by construction (extra fields fail)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    lane_id: str
    hall: Hall
    step: str = Field(max_length=32, description="The session state when last written")
    started_at: AwareDatetime
    request_id: uuid.UUID | None = None
    """The clearance request's id, once it was sent (the backend may have decided)."""


MARKER_FIELDS = frozenset(TransactionMarker.model_fields)


def abandoned_report(marker: TransactionMarker) -> KioskReferral:
    """The referral that closes an abandoned session (no document: the kiosk kept none)."""
    return KioskReferral(
        request_id=marker.request_id or uuid.UUID(hex=marker.session_id),
        reasons=[ReasonCode.SESSION_ABANDONED],
        detail=(
            f"the kiosk stopped during the {marker.step} step of a transaction started at "
            f"{marker.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        ),
    )


class MarkerFile:
    """The marker of one lane's current transaction, and its abandoned predecessors."""

    def __init__(self, folder: Path, lane_id: str) -> None:
        self.folder = folder
        self.lane_id = lane_id
        self.path = folder / f"{lane_id}.transaction.json"

    def write(self, marker: TransactionMarker) -> None:
        """Replace the marker atomically (a crash leaves the old one or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(marker.model_dump_json())
        os.replace(temp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def adopt_leftover(self, hall: Hall) -> TransactionMarker | None:
        """A marker left by a kiosk that died mid-transaction, moved aside as abandoned."""
        if not self.path.exists():
            return None
        try:
            marker = TransactionMarker.model_validate_json(self.path.read_bytes())
        except (ValidationError, OSError) as exc:
            # Unreadable (a crash while writing the first one): still a traveller left behind.
            log.warning("transaction marker unreadable", error=type(exc).__name__)
            started = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            marker = TransactionMarker(
                session_id=uuid.uuid4().hex,
                lane_id=self.lane_id,
                hall=hall,
                step="unknown",
                started_at=started,
            )
        target = self.folder / f"{self.lane_id}.abandoned.{marker.session_id}.json"
        target.write_text(marker.model_dump_json())
        self.path.unlink(missing_ok=True)
        log.warning("abandoned transaction found", session_id=marker.session_id, step=marker.step)
        return marker

    def abandoned(self) -> list[Path]:
        return sorted(self.folder.glob(f"{self.lane_id}.abandoned.*.json"))

    async def report_abandoned(self, backend: BackendClient) -> int:
        """Report every abandoned session to the backend; the number still unreported.

        A failed report keeps its file for the next attempt; the traveller is long gone to an
        officer either way, so nothing waits on this.
        """
        left = 0
        for path in self.abandoned():
            try:
                marker = TransactionMarker.model_validate_json(path.read_bytes())
            except (ValidationError, OSError):
                log.warning("abandoned marker unreadable, dropped", file=path.name)
                path.unlink(missing_ok=True)
                continue
            try:
                receipt = await backend.report_referral(abandoned_report(marker))
            except BackendClientError as exc:
                left += 1
                log.warning("abandoned session not reported yet", error=type(exc).__name__)
                continue
            path.unlink(missing_ok=True)
            log.info(
                "abandoned session reported",
                session_id=marker.session_id,
                referral_id=str(receipt.referral_id),
                created=receipt.created,
            )
        return left
