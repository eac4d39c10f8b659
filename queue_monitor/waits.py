"""Pure wait statistics: percentile, mean and share within target over a rolling window.

Percentiles use the **nearest-rank** method: the p-th percentile of n values is the value at
1-based rank ``ceil(p / 100 * n)`` in ascending order. So it is always one of the observed
values, and it is the smallest observed value ``v`` with at least p% of the values ``<= v``.
"With p95 <= 25 minutes" therefore means exactly "at least 95% of travellers waited no more
than 25 minutes" - the target in the design.

A sample is a pair ``(at, wait_s)``: ``at`` is when the wait ended (the traveller was served,
in epoch seconds of the events' own timestamps), ``wait_s`` the seconds waited. A window of
``window_s`` ending at ``end`` holds the samples with ``end - window_s < at <= end``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

P95 = 95.0


def nearest_rank_percentile(values: Iterable[float], percent: float) -> float | None:
    """The nearest-rank ``percent``-th percentile (0 < percent <= 100); None for no values."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    # Exact arithmetic: 0.95 * 20 must be rank 19, not 19.000000000000004 -> 20.
    rank = math.ceil(Fraction(percent).limit_denominator(1_000_000) * n / 100)
    return ordered[max(rank, 1) - 1]


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None for no values."""
    if not values:
        return None
    return math.fsum(values) / len(values)


def share_within(values: Sequence[float], target_s: float) -> float | None:
    """Share (0..1) of values at or under ``target_s``; None for no values."""
    if not values:
        return None
    return sum(1 for v in values if v <= target_s) / len(values)


@dataclass(frozen=True, slots=True)
class WaitSummary:
    """Statistics of the waits in one window (the fields of ``WaitStats`` that are pure maths)."""

    samples: int
    p95_wait_s: float | None
    mean_wait_s: float | None
    share_within_target: float | None
    target_s: float


def summarize(waits: Sequence[float], target_s: float) -> WaitSummary:
    """Nearest-rank p95, mean and share within ``target_s`` of ``waits``."""
    return WaitSummary(
        samples=len(waits),
        p95_wait_s=nearest_rank_percentile(waits, P95),
        mean_wait_s=mean(waits),
        share_within_target=share_within(waits, target_s),
        target_s=target_s,
    )


def in_window(samples: Iterable[tuple[float, float]], end: float, window_s: float) -> list[float]:
    """The waits of the samples ``(at, wait_s)`` with ``end - window_s < at <= end``."""
    start = end - window_s
    return [wait for at, wait in samples if start < at <= end]


class RollingWaits:
    """An in-memory rolling window of wait samples, for a single process (e.g. the simulator).

    Samples may arrive out of order; they are kept sorted by ``at``. ``trim(end)`` drops what
    has left the window. The live monitors keep the same samples in Redis instead, shared.
    """

    def __init__(self, window_s: float, target_s: float) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self.target_s = target_s
        self._ats: list[float] = []
        self._waits: list[float] = []

    def __len__(self) -> int:
        return len(self._ats)

    def add(self, at: float, wait_s: float) -> None:
        """Record one wait that ended at ``at``."""
        i = bisect.bisect_right(self._ats, at)
        self._ats.insert(i, at)
        self._waits.insert(i, wait_s)

    def trim(self, end: float) -> None:
        """Forget the samples at or before ``end - window_s`` (they can never count again)."""
        i = bisect.bisect_right(self._ats, end - self.window_s)
        del self._ats[:i]
        del self._waits[:i]

    def waits(self, end: float) -> list[float]:
        """The waits in the window ending at ``end``."""
        lo = bisect.bisect_right(self._ats, end - self.window_s)
        hi = bisect.bisect_right(self._ats, end)
        return self._waits[lo:hi]

    def summary(self, end: float) -> WaitSummary:
        """Statistics of the window ending at ``end``."""
        return summarize(self.waits(end), self.target_s)
