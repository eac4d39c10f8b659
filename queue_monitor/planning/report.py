"""Metrics of a simulation run (the JSON line per policy) and the comparison plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from queue_monitor.planning.simulator import TARGET_MIN, SimResult
from queue_monitor.waits import nearest_rank_percentile

METRIC_KEYS = (
    "policy",
    "passengers",
    "share_within_25min",
    "p95_wait_min",
    "max_wait_min",
    "officer_lane_hours",
    "egate_lane_hours",
    "alerts",
    "first_alert_lead_min",
)


WAIT_AXIS_MAX_MIN = 90  # longer waits are off the chart (the JSON has the maximum)


def first_breach_min(result: SimResult) -> float | None:
    """When the first traveller's wait passed 25 minutes (simulated minutes), if anyone's did."""
    times = [t.breach_at for t in result.travellers if t.breach_at is not None]
    return min(times) if times else None


def first_alert_lead_min(result: SimResult) -> float | None:
    """Minutes from the alert that warned of the first breach to that breach.

    The warning alert is the earliest-raised alert episode still active at the breach; if none
    is active then, the latest raised before it; if none was raised before, the first raised
    after it (a negative lead). None when nobody waited over 25 minutes or nothing was alerted.
    """
    breach = first_breach_min(result)
    if breach is None or not result.alerts:
        return None
    active = [
        a.at_min
        for a in result.alerts
        if a.at_min <= breach and (a.cleared_min is None or a.cleared_min > breach)
    ]
    if active:
        return breach - min(active)
    before = [a.at_min for a in result.alerts if a.at_min <= breach]
    if before:
        return breach - max(before)
    return breach - min(a.at_min for a in result.alerts)


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def metrics(result: SimResult) -> dict[str, Any]:
    """The JSON object of one policy's run (keys ``METRIC_KEYS``, in that order)."""
    waits = result.waits_min
    n = len(waits)
    within = sum(1 for w in waits if w <= TARGET_MIN) / n if n else 1.0
    p95 = nearest_rank_percentile(waits, 95.0) if n else 0.0
    return {
        "policy": result.policy,
        "passengers": n,
        "share_within_25min": round(within, 4),
        "p95_wait_min": _round(p95),
        "max_wait_min": _round(max(waits) if waits else 0.0),
        "officer_lane_hours": round(result.lane_minutes["officer"] / 60.0, 2),
        "egate_lane_hours": round(result.lane_minutes["egate"] / 60.0, 2),
        "alerts": len(result.alerts),
        "first_alert_lead_min": _round(first_alert_lead_min(result), 1),
    }


def wait_bands(
    result: SimResult, bucket_min: int = 15
) -> tuple[list[float], list[float], list[float]]:
    """Per bucket of arrival time: bucket start, median and p95 wait (NaN when empty)."""
    if not result.travellers:
        return [], [], []
    end = max(t.arrival for t in result.travellers)
    buckets = math.floor(end / bucket_min) + 1
    by: list[list[float]] = [[] for _ in range(buckets)]
    for t in result.travellers:
        by[int(t.arrival // bucket_min)].append(t.wait)
    starts = [float(i * bucket_min) for i in range(buckets)]
    p50 = [nearest_rank_percentile(b, 50.0) or 0.0 if b else math.nan for b in by]
    p95 = [nearest_rank_percentile(b, 95.0) or 0.0 if b else math.nan for b in by]
    return starts, p50, p95


def plot(results: Sequence[SimResult], path: Path) -> None:
    """One column per policy: arrivals, queue length, waits (median and p95) and lanes open."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(results)
    fig, axes = plt.subplots(4, cols, figsize=(3.6 * cols, 10), sharex=True, squeeze=False)
    for c, r in enumerate(results):
        t = np.asarray(r.timeline_min) / 60.0
        arrivals = np.bincount(
            np.asarray([int(x.arrival) for x in r.travellers], dtype=np.int64),
            minlength=len(r.timeline_min),
        )[: len(r.timeline_min)]
        ax = axes[0][c]
        ax.plot(t, arrivals, lw=0.8)
        ax.set_title(f"{r.policy}")
        ax = axes[1][c]
        ax.plot(t, r.queue["egate"], label="e-gate", lw=0.8)
        ax.plot(t, r.queue["officer"], label="officer", lw=0.8)
        starts, p50, p95 = wait_bands(r)
        ax = axes[2][c]
        hours = np.asarray(starts) / 60.0
        ax.fill_between(hours, 0, p95, alpha=0.3, step="post", label="p95")
        ax.step(hours, p50, where="post", lw=0.8, label="median")
        ax.axhline(TARGET_MIN, color="red", lw=0.8, ls="--")
        ax.set_ylim(0, WAIT_AXIS_MAX_MIN)
        ax = axes[3][c]
        ax.step(t, r.lanes_open["egate"], where="post", lw=0.8, label="e-gates")
        ax.step(t, r.lanes_open["officer"], where="post", lw=0.8, label="officer desks")
        ax.set_xlabel("hours from start")
    axes[0][0].set_ylabel("arrivals / min")
    axes[1][0].set_ylabel("queue")
    axes[1][0].legend(fontsize=7)
    axes[2][0].set_ylabel("wait (min) by arrival")
    axes[2][0].legend(fontsize=7)
    axes[3][0].set_ylabel("lanes open")
    axes[3][0].legend(fontsize=7)
    fig.suptitle(results[0].scenario if results else "")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
