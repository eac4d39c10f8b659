"""The contract between the parts: Redis key and stream names, and one pydantic model per event.

Every producer and consumer imports names and models from here; nothing else spells a key.
Events travel on streams as two fields: ``type`` (the event's discriminator) and ``data`` (JSON).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

PREFIX = "bordergate"

# Streams (append-only event logs, read through consumer groups).
STREAM_QUEUE = f"{PREFIX}:stream:queue"
STREAM_CLEARANCES = f"{PREFIX}:stream:clearances"
STREAM_LANE_COMMANDS = f"{PREFIX}:stream:lane-commands"
STREAM_ALERTS = f"{PREFIX}:stream:alerts"

# Consumer groups.
GROUP_QUEUE_MONITOR = "queue-monitor"

# Pub/sub channel for live pushes to pages (wait statistics, lane state, referrals).
CHANNEL_LIVE = f"{PREFIX}:live"

# Streams are capped so a long-running demo does not grow without bound.
STREAM_MAXLEN = 100_000


def heartbeat_key(kind: str, device_id: str) -> str:
    """Key holding a device's or service's last heartbeat; it expires when the sender dies."""
    return f"{PREFIX}:heartbeat:{kind}:{device_id}"


def lane_state_key(hall: Hall) -> str:
    """Hash of lane id -> LaneState JSON for one hall."""
    return f"{PREFIX}:lanes:{hall}"


def wait_stats_key(hall: Hall) -> str:
    """Latest WaitStats JSON for one hall, written by the queue monitor."""
    return f"{PREFIX}:waits:{hall}"


def schedule_key(hall: Hall) -> str:
    """Hash of arrival id -> ScheduledArrival JSON: the flights and ships expected at a hall."""
    return f"{PREFIX}:schedule:{hall}"


def processed_key(group: str, event_id: str) -> str:
    """Marker that a consumer group has applied an event (exactly-once across monitors)."""
    return f"{PREFIX}:processed:{group}:{event_id}"


def outbox_sent_key(event_id: str) -> str:
    """Marker set with an outbox event's XADD (one transaction): the replay never adds it twice."""
    return f"{PREFIX}:outbox-sent:{event_id}"


def wait_samples_key(hall: Hall) -> str:
    """Sorted set of one hall's measured waits, shared by the queue monitors.

    Member ``"<wait seconds>|<traveller_ref>"``, score = served time (epoch seconds of the
    events' own ``at``); trimmed to the monitors' rolling window.
    """
    return f"{PREFIX}:wait-samples:{hall}"


def queue_waiting_key(hall: Hall) -> str:
    """Sorted set of travellers in one hall's queue: traveller_ref -> joined time (epoch s)."""
    return f"{PREFIX}:queue-waiting:{hall}"


def queue_visit_key(hall: Hall, traveller_ref: str) -> str:
    """Hash of one traveller's queue visit (joined_at, served_at, wait_s once paired), with TTL."""
    return f"{PREFIX}:queue-visit:{hall}:{traveller_ref}"


def clearance_counts_key(hall: Hall) -> str:
    """Hash of clearance-outcome counters for one hall, kept by the queue monitors.

    Fields: ``total``, ``outcome:<admit|refer>``, ``reason:<ReasonCode>`` (each event counted once).
    """
    return f"{PREFIX}:clearance-counts:{hall}"


def arrivals_key(hall: Hall) -> str:
    """Hash of travellers entering one hall per minute, kept by the queue monitors.

    Field = the minute (epoch seconds of the ``queue.joined`` event's ``at`` // 60), value = how
    many travellers joined the queue in it (each traveller counted once, exactly once across
    monitors); fields older than two hours are trimmed.
    """
    return f"{PREFIX}:arrivals:{hall}"


def hall_config_key(hall: Hall) -> str:
    """JSON overriding the queue monitors' configured hall (installed lanes, officers on duty,
    service times, shares, delays): a partial object, merged over the monitors' settings."""
    return f"{PREFIX}:hall-config:{hall}"


def controller_lease_key(hall: Hall) -> str:
    """Leader lease of one hall's lane controller (SET NX PX): only its holder decides."""
    return f"{PREFIX}:controller-lease:{hall}"


def active_alerts_key(hall: Hall) -> str:
    """Hash of alert kind -> the raised ``Alert`` event JSON, for the alerts now in force."""
    return f"{PREFIX}:alerts-active:{hall}"


def lane_decision_key(hall: Hall) -> str:
    """Latest ``LaneDecisionSummary`` JSON of one hall, written by its lane controller."""
    return f"{PREFIX}:lane-decision:{hall}"


def referrals_channel(hall: Hall) -> str:
    """Pub/sub channel of one hall's referral changes (``ReferralChange``), for the consoles."""
    return f"{PREFIX}:referrals:{hall}"


def referral_photo_key(referral_id: str, kind: str) -> str:
    """One photo of an open referral (JPEG bytes, ``kind`` document or live), with a TTL;
    deleted when the referral closes."""
    return f"{PREFIX}:referral-photo:{referral_id}:{kind}"


def desk_officer_key(hall: Hall, lane_id: str) -> str:
    """Username of the officer who opened an officer desk from the lane console (with a TTL)."""
    return f"{PREFIX}:desk-officer:{hall}:{lane_id}"


class Hall(StrEnum):
    AIRPORT = "airport"
    CRUISE = "cruise"


class ReasonCode(StrEnum):
    """Why a traveller was referred to an officer. Shared by kiosk and backend."""

    DOCUMENT_UNREADABLE = "document-unreadable"
    CHIP_UNREADABLE = "chip-unreadable"
    DOCUMENT_INVALID = "document-invalid"
    DOCUMENT_EXPIRED = "document-expired"
    DOCUMENT_VALIDITY_SHORT = "document-validity-short"
    FACE_NOT_CAPTURED = "face-not-captured"
    FACE_MISMATCH = "face-mismatch"
    LIVENESS_FAILED = "liveness-failed"
    JOURNEY_MISSING = "journey-missing"
    JOURNEY_INVALID = "journey-invalid"
    NO_SCHEME = "no-scheme"
    BACKEND_UNAVAILABLE = "backend-unavailable"
    BACKEND_ERROR = "backend-error"
    DEVICE_NOT_AUTHORISED = "device-not-authorised"
    DEVICE_ERROR = "device-error"
    DEVICE_UNRESPONSIVE = "device-unresponsive"
    SESSION_ABANDONED = "session-abandoned"
    TIMEOUT = "timeout"
    TRAVELLER_LEFT = "traveller-left"
    # Policy engine (backend/policy): eligibility rules of the entry schemes.
    NATIONALITY_NOT_ELIGIBLE = "nationality-not-eligible"
    PORT_NOT_DESIGNATED = "port-not-designated"
    SCHEME_NOT_IN_FORCE = "scheme-not-in-force"
    DOCUMENT_TYPE_NOT_ACCEPTED = "document-type-not-accepted"
    RECORD_BARRED = "record-barred"
    RECORD_VISA_REFUSAL = "record-visa-refusal"
    RECORD_VIOLATION_5Y = "record-violation-5y"
    VISA_NOT_VALID = "visa-not-valid"
    VISA_NO_ENTRIES = "visa-no-entries"
    ONWARD_NOT_CONFIRMED = "onward-not-confirmed"
    ONWARD_TO_MAINLAND = "onward-to-mainland"
    ONWARD_BEFORE_ARRIVAL = "onward-before-arrival"
    ONWARD_AFTER_LIMIT = "onward-after-limit"
    ROUTE_FROM_MAINLAND = "route-from-mainland"
    ROUTE_ROUND_TRIP = "route-round-trip"
    CRUISE_NOT_ON_MANIFEST = "cruise-not-on-manifest"
    CRUISE_AGENCY_UNLICENSED = "cruise-agency-unlicensed"
    CRUISE_GROUP_TOO_SMALL = "cruise-group-too-small"
    CRUISE_NOT_LEAVING_WITH_SHIP = "cruise-not-leaving-with-ship"
    CRUISE_DEPARTS_AFTER_LIMIT = "cruise-departs-after-limit"


class Outcome(StrEnum):
    ADMIT = "admit"
    REFER = "refer"


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(default_factory=_new_id)
    at: AwareDatetime = Field(default_factory=_now)


class QueueJoined(_Event):
    """A traveller passed a queue-entrance counter."""

    type: Literal["queue.joined"] = "queue.joined"
    hall: Hall
    traveller_ref: str = Field(description="Anonymous per-visit token, never a document number")
    counter_id: str


class QueueServed(_Event):
    """A traveller reached the head of the queue and stepped into a gate or up to a desk."""

    type: Literal["queue.served"] = "queue.served"
    hall: Hall
    traveller_ref: str
    lane_id: str


class ClearanceOutcome(_Event):
    """The backend decided on one traveller (no biometric data, no document number)."""

    type: Literal["clearance.outcome"] = "clearance.outcome"
    clearance_id: str
    hall: Hall
    lane_id: str
    outcome: Outcome
    reasons: list[ReasonCode] = Field(default_factory=list)
    scheme: str | None = None
    nationality: str | None = None
    permitted_until: AwareDatetime | None = None


class LaneCommand(_Event):
    type: Literal["lane.command"] = "lane.command"
    hall: Hall
    lane_id: str
    action: Literal["open", "close"]
    reason: str = ""
    effective_at: AwareDatetime | None = None


class Alert(_Event):
    type: Literal["alert"] = "alert"
    hall: Hall
    severity: Literal["info", "warning", "critical"]
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class DeviceHeartbeat(_Event):
    type: Literal["device.heartbeat"] = "device.heartbeat"
    kind: Literal["kiosk", "backend", "monitor", "reader", "camera", "gate", "counter"]
    device_id: str
    lane_id: str | None = None
    status: Literal["ok", "degraded", "error"] = "ok"
    detail: str = ""


class ReferralChange(BaseModel):
    """Published on ``referrals_channel(hall)`` when a referral opens, gets photos or closes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hall: Hall
    referral_id: str
    change: Literal["opened", "photos", "closed"]


Event = Annotated[
    QueueJoined | QueueServed | ClearanceOutcome | LaneCommand | Alert | DeviceHeartbeat,
    Field(discriminator="type"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class ScheduledArrival(BaseModel):
    """One flight on block or one ship alongside: what the queue monitor forecasts from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["flight", "ship"]
    ref: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9 -]*$", examples=["KE805"]
    )
    hall: Hall
    at: AwareDatetime = Field(description="Flight: time on block. Ship: time alongside.")
    passengers: int = Field(ge=0, le=10_000, description="Expected at border inspection")
    egate_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share eligible for the e-gates"
    )
    disembark_per_min: float | None = Field(
        default=None, gt=0, le=500, description="Ships: how fast passengers come ashore"
    )
    status: Literal["scheduled", "cancelled"] = "scheduled"

    @property
    def arrival_id(self) -> str:
        """Stable per flight or ship call: the same call posted again replaces itself."""
        return f"{self.kind}:{self.ref}:{self.at.astimezone(UTC):%Y-%m-%d}"


LaneType = Literal["egate", "officer"]
LaneStatus = Literal["open", "opening", "closing", "closed"]


class LaneState(BaseModel):
    """One lane of a hall, as the lane controller keeps it at ``lane_state_key(hall)``.

    ``opening``: ordered open, ready to serve at ``ready_at``; ``open``: serving, may be closed
    from ``closable_at`` (ready + minimum open time); ``closing``: ordered closed, finishing its
    traveller; ``closed``. ``since``: when the lane entered its status.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lane_id: str
    hall: Hall
    lane_type: LaneType
    status: LaneStatus
    since: AwareDatetime
    ready_at: AwareDatetime | None = None
    closable_at: AwareDatetime | None = None


class LaneDecisionSummary(BaseModel):
    """The lane controller's latest decision for one hall (for the manager dashboard)."""

    model_config = ConfigDict(frozen=True)

    hall: Hall
    at: AwareDatetime
    decided_by: str
    share_next_hour_now: float | None = Field(
        description="Forecast share of the next hour's travellers within the target, lanes now"
    )
    share_next_hour_planned: float | None = Field(description="The same with the planned lanes")
    arrival_scale: float = Field(description="Factor applied to the schedule's forecast")
    planned_officer_lanes: list[int] = Field(description="Per minute from ``at``")
    egate_share: float
    officers_available: int
    lanes: dict[str, int] = Field(description="``<lane_type>:<status>`` -> count")
    queue_length: int
    oldest_wait_s: float
    arrivals_last_hour: int = Field(
        description="Travellers who joined the queue in the 60 complete minutes before ``at``"
    )
    commands: int = Field(description="Lane commands issued by this decision")
    alerts: list[str] = Field(description="Alert kinds in force")
    decide_ms: float


class WaitStats(BaseModel):
    """Rolling wait statistics for one hall, published by the queue monitor."""

    model_config = ConfigDict(frozen=True)

    hall: Hall
    samples: int
    p95_wait_s: float | None
    mean_wait_s: float | None
    share_within_target: float | None
    target_s: float
    window_s: float
    waiting_now: int
    updated_at: AwareDatetime


def encode_event(event: Event) -> dict[str, str]:
    """Stream fields for one event."""
    return {"type": event.type, "data": event.model_dump_json()}


def decode_event(fields: dict[str, str] | dict[bytes, bytes]) -> Event:
    """Parse stream fields back into the event model; raises pydantic.ValidationError."""
    raw = fields.get("data") if "data" in fields else fields.get(b"data")  # type: ignore[call-overload]
    if raw is None:
        raise ValueError("stream entry has no 'data' field")
    return _EVENT_ADAPTER.validate_json(raw)
