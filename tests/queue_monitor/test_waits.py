"""The pure statistics: exact small examples and hypothesis properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_monitor.waits import (
    RollingWaits,
    in_window,
    mean,
    nearest_rank_percentile,
    share_within,
    summarize,
)

waits_st = st.lists(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        (list(range(1, 21)), 95, 19),  # 0.95 * 20 = 19 exactly: rank 19, not 20
        (list(range(1, 101)), 95, 95),
        (list(range(1, 11)), 95, 10),  # ceil(9.5) = 10
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 100, 10),
        (list(range(1, 11)), 0.1, 1),
        ([7.5], 95, 7.5),
        ([30, 10, 20], 95, 30),  # order does not matter
        ([5, 5, 5, 1], 25, 1),
    ],
)
def test_nearest_rank_examples(values: list[float], percent: float, expected: float) -> None:
    assert nearest_rank_percentile(values, percent) == expected


def test_empty_gives_none() -> None:
    assert nearest_rank_percentile([], 95) is None
    assert mean([]) is None
    assert share_within([], 1500) is None
    summary = summarize([], 1500)
    assert (summary.samples, summary.p95_wait_s, summary.mean_wait_s) == (0, None, None)
    assert summary.share_within_target is None


@pytest.mark.parametrize("percent", [0, -1, 100.5])
def test_percent_out_of_range(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        nearest_rank_percentile([1.0], percent)


def test_summarize_example() -> None:
    waits = [60.0 * i for i in range(1, 41)]  # 1..40 minutes
    s = summarize(waits, target_s=1500)
    assert s.samples == 40
    assert s.p95_wait_s == 38 * 60  # rank ceil(38.0) = 38
    assert s.mean_wait_s == pytest.approx(20.5 * 60)
    assert s.share_within_target == 25 / 40
    assert s.target_s == 1500


@given(waits_st)
def test_p95_is_an_observed_value_within_min_max(values: list[float]) -> None:
    p95 = nearest_rank_percentile(values, 95)
    assert p95 is not None
    assert min(values) <= p95 <= max(values)
    assert p95 in values


@given(waits_st)
def test_p95_is_smallest_value_covering_95_percent(values: list[float]) -> None:
    """The defining property of nearest rank, in integer arithmetic."""
    p95 = nearest_rank_percentile(values, 95)
    assert p95 is not None
    n = len(values)
    assert 100 * sum(v <= p95 for v in values) >= 95 * n
    assert 100 * sum(v < p95 for v in values) < 95 * n


@given(waits_st, st.randoms())
def test_percentile_ignores_order(values: list[float], rnd: random.Random) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert nearest_rank_percentile(shuffled, 95) == nearest_rank_percentile(values, 95)


@given(
    waits_st,
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=0.01, max_value=100),
)
def test_percentile_monotone_in_percent(values: list[float], p: float, q: float) -> None:
    lo, hi = sorted((p, q))
    a = nearest_rank_percentile(values, lo)
    b = nearest_rank_percentile(values, hi)
    assert a is not None
    assert b is not None
    assert a <= b


@given(waits_st, st.floats(0, 2e6), st.floats(0, 2e6))
def test_share_within_monotone_in_target(values: list[float], s: float, t: float) -> None:
    lo, hi = sorted((s, t))
    a = share_within(values, lo)
    b = share_within(values, hi)
    assert a is not None
    assert b is not None
    assert 0 <= a <= b <= 1


@given(waits_st)
def test_share_within_at_p95_and_max(values: list[float]) -> None:
    p95 = nearest_rank_percentile(values, 95)
    assert p95 is not None
    share = share_within(values, p95)
    assert share is not None
    assert share * len(values) >= 0.95 * len(values) - 1e-9
    assert share_within(values, max(values)) == 1.0


@given(waits_st)
def test_mean_between_min_and_max(values: list[float]) -> None:
    m = mean(values)
    assert m is not None
    tol = 1e-9 * max(1.0, max(values))
    assert min(values) - tol <= m <= max(values) + tol
    assert math.isclose(m, math.fsum(values) / len(values))


samples_st = st.lists(
    st.tuples(st.floats(0, 10_000, allow_nan=False), st.floats(0, 5_000, allow_nan=False)),
    max_size=200,
)


@given(samples_st, st.floats(0, 12_000), st.floats(1, 5_000))
def test_rolling_window_matches_brute_force(
    samples: list[tuple[float, float]], end: float, window: float
) -> None:
    rolling = RollingWaits(window_s=window, target_s=1500)
    for at, wait in samples:  # arbitrary arrival order
        rolling.add(at, wait)
    expected = in_window(samples, end, window)
    assert sorted(rolling.waits(end)) == sorted(expected)
    assert rolling.summary(end) == summarize(rolling.waits(end), 1500)
    rolling.trim(end)
    assert sorted(rolling.waits(end)) == sorted(expected)  # trimming keeps the window
    assert len(rolling) == sum(1 for at, _ in samples if at > end - window)


def test_in_window_bounds() -> None:
    samples = [(0.0, 1.0), (100.0, 2.0), (3600.0, 3.0), (3700.0, 4.0)]
    assert in_window(samples, end=3600.0, window_s=3600.0) == [2.0, 3.0]  # (0, 3600]
    assert in_window(samples, end=3700.0, window_s=100.0) == [4.0]


def test_rolling_rejects_empty_window() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RollingWaits(window_s=0, target_s=1)
