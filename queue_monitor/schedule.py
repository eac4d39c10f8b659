"""The hall's schedule (``POST /v1/schedules`` stores it at ``schedule_key(hall)``) as the
controller's arrival waves.

- A flight's passengers reach the hall over ``HallConfig.flight_over_min`` after on-block
  (the controller's flight profile).
- A ship's come ashore over ``passengers / disembark_per_min`` minutes from alongside (the
  hall's ``ship_disembark_per_min`` when the entry has no rate).
- Cancelled calls and calls without passengers are skipped; so are waves that finished more
  than ``lookback_min`` ago (the controller compares only the last hour's arrivals with their
  forecast) or start after the horizon.

The e-gate share given to the controller is the passenger-weighted share of the waves kept
(the schedule knows each flight's mix), or the hall's configured share when none is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis

from bordergate.contracts import Hall, ScheduledArrival, schedule_key
from queue_monitor.hall_config import HallConfig
from queue_monitor.planning.scenario import ArrivalWave

log = structlog.get_logger("queue_monitor.schedule")

MAX_OVER_MIN = 24 * 60.0


async def read_arrivals(redis: Redis, hall: Hall) -> list[ScheduledArrival]:
    """The scheduled arrivals of ``hall``, soonest first; unreadable entries are logged and
    skipped. (The same reading as ``backend.schedules.api.read_schedule``, without importing
    the backend.)"""
    raw = await redis.hgetall(schedule_key(hall))
    arrivals: list[ScheduledArrival] = []
    for arrival_id, value in raw.items():
        try:
            arrivals.append(ScheduledArrival.model_validate_json(value))
        except (ValueError, ValidationError):
            log.warning("schedule_entry_unreadable", hall=str(hall), arrival_id=str(arrival_id))
    return sorted(arrivals, key=lambda a: a.at)


def over_min(arrival: ScheduledArrival, config: HallConfig) -> float:
    """Minutes over which the arrival's passengers reach the hall."""
    if arrival.kind == "flight":
        return config.flight_over_min
    rate = arrival.disembark_per_min or config.ship_disembark_per_min
    return min(MAX_OVER_MIN, max(1.0, arrival.passengers / rate))


def arrival_waves(
    arrivals: Iterable[ScheduledArrival],
    config: HallConfig,
    now: datetime,
    horizon_min: float,
    lookback_min: float = 60.0,
) -> list[tuple[ScheduledArrival, ArrivalWave]]:
    """The arrivals that matter now, each with its wave."""
    out: list[tuple[ScheduledArrival, ArrivalWave]] = []
    earliest_end = now - timedelta(minutes=lookback_min)
    latest_start = now + timedelta(minutes=horizon_min)
    for arrival in arrivals:
        if arrival.status == "cancelled" or arrival.passengers <= 0:
            continue
        minutes = over_min(arrival, config)
        if arrival.at + timedelta(minutes=minutes) < earliest_end or arrival.at > latest_start:
            continue
        wave = ArrivalWave(
            at=arrival.at,
            passengers=arrival.passengers,
            profile=arrival.kind,
            over_min=minutes,
        )
        out.append((arrival, wave))
    return out


def weighted_egate_share(
    kept: Iterable[tuple[ScheduledArrival, ArrivalWave]], default: float
) -> float:
    """Passenger-weighted e-gate share of the waves, or ``default`` without passengers."""
    passengers = 0
    eligible = 0.0
    for arrival, _ in kept:
        passengers += arrival.passengers
        eligible += arrival.passengers * arrival.egate_share
    return eligible / passengers if passengers > 0 else default
