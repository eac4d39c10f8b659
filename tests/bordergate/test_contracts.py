from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bordergate.contracts import (
    STREAM_CLEARANCES,
    Alert,
    ClearanceOutcome,
    DeviceHeartbeat,
    Hall,
    LaneCommand,
    Outcome,
    QueueJoined,
    QueueServed,
    ReasonCode,
    decode_event,
    encode_event,
    heartbeat_key,
    lane_state_key,
    wait_stats_key,
)

EVENTS = [
    QueueJoined(hall=Hall.AIRPORT, traveller_ref="t1", counter_id="c1"),
    QueueServed(hall=Hall.CRUISE, traveller_ref="t1", lane_id="C1"),
    ClearanceOutcome(
        clearance_id="x",
        hall=Hall.AIRPORT,
        lane_id="A1",
        outcome=Outcome.REFER,
        reasons=[ReasonCode.FACE_MISMATCH, ReasonCode.NO_SCHEME],
    ),
    LaneCommand(hall=Hall.AIRPORT, lane_id="D3", action="open", reason="forecast"),
    Alert(hall=Hall.CRUISE, severity="warning", kind="forecast", message="p95 at risk"),
    DeviceHeartbeat(kind="kiosk", device_id="A1", lane_id="A1"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_every_event_round_trips_through_stream_fields(event: object) -> None:
    fields = encode_event(event)  # type: ignore[arg-type]
    assert set(fields) == {"type", "data"}
    assert decode_event(fields) == event
    # Redis clients without decode_responses hand back bytes.
    raw = {k.encode(): v.encode() for k, v in fields.items()}
    assert decode_event(raw) == event


def test_decode_rejects_unknown_type_and_missing_data() -> None:
    with pytest.raises(ValidationError):
        decode_event({"type": "x", "data": '{"type": "nonsense"}'})
    with pytest.raises(ValueError, match="no 'data'"):
        decode_event({"type": "queue.joined"})


def test_events_refuse_naive_times_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        QueueJoined(hall=Hall.AIRPORT, traveller_ref="t", counter_id="c", at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError):
        QueueJoined.model_validate(
            {"hall": "airport", "traveller_ref": "t", "counter_id": "c", "face": "x"}
        )
    ok = QueueJoined(
        hall=Hall.AIRPORT, traveller_ref="t", counter_id="c", at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert ok.at.tzinfo is not None


def test_key_names_are_namespaced_and_distinct() -> None:
    keys = {
        STREAM_CLEARANCES,
        heartbeat_key("kiosk", "A1"),
        lane_state_key(Hall.AIRPORT),
        lane_state_key(Hall.CRUISE),
        wait_stats_key(Hall.AIRPORT),
    }
    assert len(keys) == 5
    assert all(k.startswith("bordergate:") for k in keys)
