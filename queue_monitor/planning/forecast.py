"""The fluid forecaster: project queues and waits minute by minute from a known state.

The model is deterministic and vectorised: each lane type is one FIFO queue served by ``lanes[i]``
lanes at ``rate`` travellers per lane-minute during minute ``i``. Minute ``i`` of a grid is
``[i, i + 1)`` minutes after its origin. Travellers already waiting are placed at the front of the
grid: a queue of ``q`` whose oldest member has waited ``age`` minutes becomes ``q`` arrivals spread
over the ``ceil(age)`` minutes before "now" (those minutes have no capacity): in proportion to
the hall's arrivals in those minutes when they are known (``QueueState.profile``), else evenly.
(The tail of a ship is a queue of mostly old travellers: spread evenly, most would look young.)
That keeps one rule for everyone: a traveller's wait is the time from arrival until cumulative
departures reach their place in the cumulative arrivals (the FIFO "virtual waiting time").

``project_hall`` chains the two queues: e-gate travellers are served at the gates, and
``fallback_share`` of those served join the officer queue in the same minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class QueueState:
    """Travellers waiting now and how long the oldest of them has waited (minutes).

    ``profile`` (optional): the hall's arrivals in each of the minutes before now, oldest first,
    ending with the last complete minute; the waiting travellers are spread over their minutes
    in proportion to it (evenly where it does not reach or is all zero).
    """

    length: float = 0.0
    oldest_wait_min: float = 0.0
    profile: tuple[float, ...] = ()


def pre_minutes(*states: QueueState) -> int:
    """Minutes to prepend to a grid so every waiting traveller gets their arrival minute."""
    return max([1, *(math.ceil(s.oldest_wait_min) for s in states if s.length > 0)])


def with_backlog(arrivals: FloatArray, state: QueueState, pre: int) -> FloatArray:
    """``arrivals`` (minute 0 = now) with ``pre`` minutes in front holding the waiting queue."""
    front = np.zeros(pre, dtype=np.float64)
    if state.length > 0:
        spread = max(1, min(pre, math.ceil(state.oldest_wait_min)))
        front[pre - spread :] = state.length * backlog_weights(state.profile, spread)
    return np.concatenate([front, arrivals])


def backlog_weights(profile: tuple[float, ...], spread: int) -> FloatArray:
    """Shares (summing to 1) of a waiting queue in each of the ``spread`` minutes before now,
    oldest first: in proportion to ``profile``'s last ``spread`` minutes (minutes before it
    reaches count as its mean), evenly if that is all zero."""
    known = np.asarray(profile[-spread:], dtype=np.float64) if profile else np.zeros(0)
    known = np.maximum(known, 0.0)
    if known.shape[0] == 0 or float(known.sum()) <= 0.0:
        return np.full(spread, 1.0 / spread)
    weights = np.concatenate([np.full(spread - known.shape[0], float(known.mean())), known])
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def fluid_served(arrivals: FloatArray, capacity: FloatArray) -> FloatArray:
    """Travellers served in each minute by a FIFO queue with that capacity per minute."""
    served = np.empty_like(arrivals)
    queue = 0.0
    for i in range(arrivals.shape[0]):
        available = queue + float(arrivals[i])
        s = min(available, float(capacity[i]))
        served[i] = s
        queue = available - s
    return served


def virtual_waits(arrivals: FloatArray, served: FloatArray, last_capacity: float) -> FloatArray:
    """Wait (minutes) of the travellers arriving in each minute, at the middle of their minute.

    Beyond the grid the queue is assumed to drain at ``last_capacity`` per minute (infinite
    if zero).
    """
    n = arrivals.shape[0]
    cum_a = np.cumsum(arrivals)
    cum_d = np.concatenate([[0.0], np.cumsum(served)])  # cum_d[j] = served by the start of j
    place = cum_a - arrivals / 2.0
    eps = 1e-9
    j = np.searchsorted(cum_d, place - eps, side="left")  # first boundary with cum_d >= place
    waits = np.empty(n, dtype=np.float64)
    inside = j <= n
    jj = np.clip(j, 1, n)
    lo = cum_d[jj - 1]
    hi = cum_d[jj]
    step = np.where(hi > lo, hi - lo, 1.0)
    frac = np.clip((place - lo) / step, 0.0, 1.0)
    done_at = np.where(j == 0, 0.0, (jj - 1) + frac)
    mids = np.arange(n, dtype=np.float64) + 0.5
    waits[inside] = np.maximum(done_at[inside] - mids[inside], 0.0)
    if not np.all(inside):
        rest = place[~inside] - cum_d[n]
        extra = rest / last_capacity if last_capacity > 0 else np.inf
        waits[~inside] = n + extra - mids[~inside]
    return waits


@dataclass(frozen=True, slots=True)
class QueueProjection:
    """One queue on a grid whose minute ``pre`` is "now"."""

    pre: int
    arrivals: FloatArray
    served: FloatArray
    waits_min: FloatArray

    @property
    def queue(self) -> FloatArray:
        """Travellers waiting at the end of each minute."""
        return np.cumsum(self.arrivals) - np.cumsum(self.served)


def project_queue(
    arrivals: FloatArray, state: QueueState, lanes: FloatArray, rate_per_lane_min: float, pre: int
) -> QueueProjection:
    """Project one queue: ``arrivals`` and ``lanes`` per minute from now."""
    full = with_backlog(arrivals, state, pre)
    capacity = np.concatenate([np.zeros(pre), lanes * rate_per_lane_min])
    served = fluid_served(full, capacity)
    last = float(capacity[-1]) if capacity.shape[0] else 0.0
    return QueueProjection(pre, full, served, virtual_waits(full, served, last))


@dataclass(frozen=True, slots=True)
class HallProjection:
    egate: QueueProjection
    officer: QueueProjection
    fallback_share: float = 0.0

    def share_within(self, target_min: float, first: int, last: int) -> float:
        """Share of travellers arriving in minutes ``[first, last)`` after now (0 = now,
        the waiting queue counts as arriving now) whose projected wait is within target.
        Fallback travellers count once, in the officer queue; 1.0 when nobody arrives."""
        total = 0.0
        ok = 0.0
        for q, weight in ((self.egate, 1.0 - self.fallback_share), (self.officer, 1.0)):
            lo = 0 if first <= 0 else q.pre + first
            hi = q.pre + last
            a = q.arrivals[lo:hi] * weight
            w = q.waits_min[lo:hi]
            total += float(a.sum())
            ok += float(a[w <= target_min].sum())
        return 1.0 if total <= 1e-9 else ok / total

    def travellers_over(self, target_min: float, first: int, last: int) -> float:
        """How many of the travellers counted by ``share_within`` wait over the target."""
        total = 0.0
        for q, weight in ((self.egate, 1.0 - self.fallback_share), (self.officer, 1.0)):
            lo = 0 if first <= 0 else q.pre + first
            hi = q.pre + last
            a = q.arrivals[lo:hi] * weight
            total += float(a[q.waits_min[lo:hi] > target_min].sum())
        return total

    def first_breach(self, target_min: float) -> int | None:
        """First minute after now at which a traveller's projected wait passes the target:
        arrival minute + target (None if nobody does)."""
        best: int | None = None
        for q in (self.egate, self.officer):
            bad = np.nonzero((q.waits_min > target_min) & (q.arrivals > 1e-6))[0]
            if bad.shape[0]:
                at = int(bad[0]) - q.pre + math.ceil(target_min)
                best = at if best is None else min(best, at)
        return None if best is None else max(best, 0)


def project_hall(
    egate_arrivals: FloatArray,
    officer_arrivals: FloatArray,
    fallback_share: float,
    egate_state: QueueState,
    officer_state: QueueState,
    egate_lanes: FloatArray,
    officer_lanes: FloatArray,
    egate_rate: float,
    officer_rate: float,
) -> HallProjection:
    """Project both queues; ``officer_arrivals`` are the direct ones (fallbacks are added)."""
    pre = pre_minutes(egate_state, officer_state)
    egate = project_queue(egate_arrivals, egate_state, egate_lanes, egate_rate, pre)
    fallback = fallback_share * egate.served[pre:]
    officer = project_queue(
        officer_arrivals + fallback, officer_state, officer_lanes, officer_rate, pre
    )
    return HallProjection(egate, officer, fallback_share)
