"""Lane state: the hall's concrete lanes and how the controller's commands move them. Pure.

A hall's lanes live at ``lane_state_key(hall)`` (lane id -> ``LaneState`` JSON), written only by
the hall's lane controller (the monitor holding the hall's lease). Transitions, at each decision:

- ``closed`` -> ``opening`` on an open command: ``ready_at = now + open_delay``,
  ``closable_at = ready_at + min_open``;
- ``opening`` -> ``open`` once ``ready_at`` has passed;
- ``open`` -> ``closing`` on a close command, only once ``closable_at`` has passed;
- ``closing`` -> ``closed`` after the lane type's closing grace (the time to finish the last
  traveller: an e-gate's service time, an officer's referral time).

Open commands take the lowest-numbered closed lanes, close commands the highest-numbered open
ones, so the lanes in use stay together. Lanes are created from the hall configuration
(``egate-01``..., ``officer-01``...): the first ``initially_open_*`` open (closable after the
minimum open time), the rest closed; a lane no longer installed is dropped (and told to close).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bordergate.contracts import Hall, LaneState, LaneType
from queue_monitor.hall_config import HallConfig
from queue_monitor.planning.controller import Lane, LaneGroup

LANE_TYPES: tuple[LaneType, LaneType] = ("egate", "officer")

Lanes = dict[str, LaneState]


@dataclass(frozen=True, slots=True)
class LaneChange:
    """A lane ordered to open or close by a decision (one ``LaneCommand`` event each)."""

    lane: LaneState
    action: str  # "open" | "close"
    reason: str

    @property
    def effective_at(self) -> datetime:
        if self.action == "open" and self.lane.ready_at is not None:
            return self.lane.ready_at
        return self.lane.since


def _lane_number(lane_id: str) -> tuple[int, str]:
    head, _, tail = lane_id.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (10**9, lane_id)


def ordered(lanes: Iterable[LaneState]) -> list[LaneState]:
    return sorted(lanes, key=lambda lane: _lane_number(lane.lane_id))


def new_lane(hall: Hall, lane_type: LaneType, lane_id: str, now: datetime) -> LaneState:
    return LaneState(lane_id=lane_id, hall=hall, lane_type=lane_type, status="closed", since=now)


def opened(lane: LaneState, now: datetime, ready_at: datetime, min_open_min: float) -> LaneState:
    return lane.model_copy(
        update={
            "status": "open" if ready_at <= now else "opening",
            "since": now,
            "ready_at": ready_at,
            "closable_at": ready_at + timedelta(minutes=min_open_min),
        }
    )


def initial_lanes(hall: Hall, config: HallConfig, now: datetime) -> Lanes:
    """The lanes of a hall seen for the first time: the initially open ones open now."""
    lanes: Lanes = {}
    for lane_type in LANE_TYPES:
        for i, lane_id in enumerate(config.lane_ids(lane_type)):
            lane = new_lane(hall, lane_type, lane_id, now)
            if i < config.initially_open(lane_type):
                lane = opened(lane, now, now, config.min_open_min)
            lanes[lane_id] = lane
    return lanes


def reconcile(
    hall: Hall, lanes: Mapping[str, LaneState], config: HallConfig, now: datetime
) -> tuple[Lanes, list[LaneState]]:
    """The configured lanes: stored ones kept, new ones added closed (or, when the hall has no
    lanes stored yet, created as ``initial_lanes``). Returns them and the lanes dropped."""
    if not lanes:
        return initial_lanes(hall, config, now), []
    out: Lanes = {}
    wanted: set[str] = set()
    for lane_type in LANE_TYPES:
        for lane_id in config.lane_ids(lane_type):
            wanted.add(lane_id)
            stored = lanes.get(lane_id)
            ok = stored is not None and stored.lane_type == lane_type
            out[lane_id] = (
                stored if stored is not None and ok else new_lane(hall, lane_type, lane_id, now)
            )
    dropped = [lane for lane_id, lane in lanes.items() if lane_id not in wanted]
    return out, ordered(dropped)


def advance(lanes: Mapping[str, LaneState], config: HallConfig, now: datetime) -> Lanes:
    """Time passing: opening lanes whose ``ready_at`` passed are open, closing lanes past their
    grace are closed."""
    out: Lanes = {}
    for lane_id, lane in lanes.items():
        if lane.status == "opening" and lane.ready_at is not None and lane.ready_at <= now:
            lane = lane.model_copy(update={"status": "open", "since": lane.ready_at})
        elif lane.status == "closing":
            done = lane.since + timedelta(seconds=config.closing_grace_s(lane.lane_type))
            if done <= now:
                lane = lane.model_copy(
                    update={
                        "status": "closed",
                        "since": done,
                        "ready_at": None,
                        "closable_at": None,
                    }
                )
        out[lane_id] = lane
    return out


def lane_group(
    lanes: Mapping[str, LaneState],
    lane_type: LaneType,
    installed: int,
    queue_length: int,
    oldest_wait_s: float,
) -> LaneGroup:
    """The controller's view of one lane type (closed lanes are not listed)."""
    listed = tuple(
        Lane(status=lane.status, ready_at=lane.ready_at, closable_at=lane.closable_at)
        for lane in ordered(lanes.values())
        if lane.lane_type == lane_type
        and lane.status != "closed"
        and lane.ready_at is not None
        and lane.closable_at is not None
    )
    return LaneGroup(
        installed=installed,
        queue_length=queue_length,
        oldest_wait_s=oldest_wait_s,
        lanes=listed,
    )


def open_lanes(
    lanes: Lanes, lane_type: LaneType, count: int, config: HallConfig, now: datetime, reason: str
) -> list[LaneChange]:
    """Open up to ``count`` closed lanes (lowest numbers first); changes ``lanes`` in place."""
    changes: list[LaneChange] = []
    ready_at = now + timedelta(minutes=config.open_delay_min)
    for lane in ordered(lanes.values()):
        if len(changes) >= count:
            break
        if lane.lane_type == lane_type and lane.status == "closed":
            new = opened(lane, now, ready_at, config.min_open_min)
            lanes[lane.lane_id] = new
            changes.append(LaneChange(new, "open", reason))
    return changes


def close_lanes(
    lanes: Lanes, lane_type: LaneType, count: int, now: datetime, reason: str
) -> list[LaneChange]:
    """Close up to ``count`` open lanes past their minimum open time (highest numbers first);
    changes ``lanes`` in place."""
    changes: list[LaneChange] = []
    for lane in reversed(ordered(lanes.values())):
        if len(changes) >= count:
            break
        if (
            lane.lane_type == lane_type
            and lane.status == "open"
            and lane.closable_at is not None
            and lane.closable_at <= now
        ):
            new = lane.model_copy(update={"status": "closing", "since": now})
            lanes[lane.lane_id] = new
            changes.append(LaneChange(new, "close", reason))
    return changes


def counts(lanes: Mapping[str, LaneState]) -> dict[str, int]:
    """``<lane_type>:<status>`` -> how many lanes (statuses with none left out)."""
    out: dict[str, int] = {}
    for lane in lanes.values():
        key = f"{lane.lane_type}:{lane.status}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
