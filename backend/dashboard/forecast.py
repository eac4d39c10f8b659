"""The next hours of one hall, for the manager: arrivals, waits and lanes, from the schedule.

The queue monitor's lane controller forecasts every decision but publishes only its summary
(``LaneDecisionSummary``: the next hour's shares and the planned officer lanes), so the backend
computes the curve itself with the same code: it reads the same inputs as the controller
(``LaneController.read_inputs``, the lanes, the alerts in force), takes the controller's decision
(``planning.controller.decide``) and projects the hall with the planned lanes
(``planning.forecast.project_hall``). Nothing here is queueing maths of its own: per bucket of
minutes it sums the forecast arrivals, asks the projection for the share within the target and
reads the 95th percentile of the projected waits, weighted by the travellers they apply to.

The day's arrivals from the schedule (``arrival_buckets``) use the controller's arrival
profiles (``planning.arrivals``) over the whole day, past calls included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from redis.asyncio import Redis

from backend.dashboard.models import ArrivalBucket, ForecastBucket, HallForecast
from bordergate.contracts import Hall, ScheduledArrival
from queue_monitor.control import LaneController, hall_snapshot, read_active_alerts, read_lanes
from queue_monitor.hall_config import HallConfig
from queue_monitor.lanes import advance, reconcile
from queue_monitor.planning import controller as planning
from queue_monitor.planning.arrivals import Wave, expected_per_minute
from queue_monitor.planning.controller import (
    ControllerConfig,
    HallSnapshot,
    lane_profile,
    officer_mean_service_s,
    waves_from,
)
from queue_monitor.planning.forecast import HallProjection, QueueState, project_hall
from queue_monitor.schedule import over_min

FloatArray = npt.NDArray[np.float64]


async def read_snapshot(
    redis: Redis, controller: LaneController, hall: Hall, now: datetime
) -> HallSnapshot:
    """The lane controller's snapshot of ``hall`` now, read as the controller reads it (without
    its lease: nothing is written)."""
    inputs = await controller.read_inputs(hall, now)
    config = inputs.config
    lanes, _ = reconcile(hall, await read_lanes(redis, hall), config, now)
    lanes = advance(lanes, config, now)
    return hall_snapshot(inputs, lanes, await read_active_alerts(redis, hall))


def weighted_p95(values: FloatArray, weights: FloatArray) -> float | None:
    """The 95th percentile of ``values`` with ``weights`` (nearest rank on the weight); None
    when the weights sum to nothing."""
    keep = weights > 1e-9
    if not np.any(keep):
        return None
    v, w = values[keep], weights[keep]
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    i = int(np.searchsorted(cum, 0.95 * cum[-1] - 1e-12, side="left"))
    return float(v[order][min(i, v.shape[0] - 1)])


def forecast_hall(
    snapshot: HallSnapshot, config: ControllerConfig, bucket_min: int
) -> HallForecast:
    """The decision the controller would take now, and the hall projected with its lanes."""
    decision = planning.decide(snapshot, config)
    p = snapshot.params
    now = snapshot.now
    horizon = config.horizon_min
    target = config.target_wait_min
    total = (
        expected_per_minute(waves_from(snapshot.schedule, now), 0.0, horizon)
        * decision.arrival_scale
    )
    egate_in = total * p.egate_share
    officer_in = total * (1.0 - p.egate_share)
    recent = tuple(float(a) for a in snapshot.arrivals_per_min)
    egate_state = QueueState(
        snapshot.egate.queue_length, snapshot.egate.oldest_wait_s / 60.0, recent
    )
    officer_state = QueueState(
        snapshot.officer.queue_length, snapshot.officer.oldest_wait_s / 60.0, recent
    )
    # The e-gates as the controller plans them: every installed gate from when e-gate travellers
    # come (once a gate ordered now could be ready); the officer lanes as it plans them.
    egates = lane_profile(snapshot.egate, now, horizon)[0].astype(np.float64)
    if snapshot.egate.queue_length > 0 or float(egate_in.sum()) > 1e-3:
        egates[math.ceil(p.open_delay_min) :] = np.maximum(
            egates[math.ceil(p.open_delay_min) :], snapshot.egate.installed
        )
    officers = np.asarray(decision.planned_officer_lanes, dtype=np.float64)
    projection = project_hall(
        egate_in,
        officer_in,
        p.egate_fallback_share,
        egate_state,
        officer_state,
        egates,
        officers,
        60.0 / p.egate_service_s * config.utilisation,
        60.0 / officer_mean_service_s(p) * config.utilisation,
    )
    buckets = [
        ForecastBucket(
            start=now + timedelta(minutes=start),
            arrivals=round(float(total[start : start + bucket_min].sum()), 1),
            p95_wait_s=_bucket_p95(projection, start, start + bucket_min),
            share_within_target=round(
                projection.share_within(target, start, start + bucket_min), 4
            ),
            officer_lanes=round(float(officers[start : start + bucket_min].mean()), 2),
            egates=round(float(egates[start : start + bucket_min].mean()), 2),
        )
        for start in range(0, horizon - bucket_min + 1, bucket_min)
    ]
    return HallForecast(
        hall=Hall(snapshot.hall),
        at=now,
        bucket_min=bucket_min,
        target_s=target * 60.0,
        share_next_hour_now=_finite(decision.share_next_hour_now),
        share_next_hour_planned=_finite(decision.share_next_hour_planned),
        arrival_scale=round(decision.arrival_scale, 3),
        buckets=buckets,
    )


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _bucket_p95(projection: HallProjection, first: int, last: int) -> float | None:
    """p95 of the projected waits (seconds) of the travellers arriving in ``[first, last)``
    minutes from now; the e-gate travellers who fall back count once, at the desk."""
    values: list[FloatArray] = []
    weights: list[FloatArray] = []
    share = projection.fallback_share
    for queue, weight in ((projection.egate, 1.0 - share), (projection.officer, 1.0)):
        lo = 0 if first <= 0 else queue.pre + first
        hi = queue.pre + last
        values.append(queue.waits_min[lo:hi])
        weights.append(queue.arrivals[lo:hi] * weight)
    p95 = weighted_p95(np.concatenate(values), np.concatenate(weights))
    if p95 is None:
        return None
    return round(p95 * 60.0, 1) if math.isfinite(p95) else None


def arrival_buckets(
    arrivals: Sequence[ScheduledArrival],
    hall_config: HallConfig,
    start: datetime,
    end: datetime,
    bucket_min: int,
) -> list[ArrivalBucket]:
    """Travellers the schedule brings into the hall per bucket from ``start`` to ``end``."""
    waves = [
        Wave(
            (a.at - start).total_seconds() / 60.0,
            float(a.passengers),
            a.kind,
            over_min(a, hall_config),
        )
        for a in arrivals
        if a.status != "cancelled" and a.passengers > 0
    ]
    minutes = max(0, int((end - start).total_seconds() // 60))
    per_minute = expected_per_minute(waves, 0.0, minutes) if waves else np.zeros(minutes)
    return [
        ArrivalBucket(
            start=start + timedelta(minutes=i),
            passengers=round(float(per_minute[i : i + bucket_min].sum()), 1),
        )
        for i in range(0, minutes, bucket_min)
    ]
