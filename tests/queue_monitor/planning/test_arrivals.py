"""Arrival profiles: exact shapes, integrals, and seeded sampling."""

from __future__ import annotations

import numpy as np
import pytest

from queue_monitor.planning.arrivals import (
    Wave,
    expected_cumulative,
    expected_per_minute,
    profile_cdf,
    profile_inverse_cdf,
    sample_arrival_times,
)


@pytest.mark.parametrize("profile", ["flight", "ship"])
def test_curves_integrate_to_the_passenger_count(profile: str) -> None:
    waves = [Wave(12.3, 317.0, profile, 37.0), Wave(40.0, 1000.0, profile, 150.0)]  # type: ignore[arg-type]
    per_min = expected_per_minute(waves, 0.0, 240)
    assert per_min.sum() == pytest.approx(1317.0, rel=1e-12)
    assert np.all(per_min >= -1e-12)
    assert per_min[:12].sum() == pytest.approx(0.0)


def test_hand_computed_shapes() -> None:
    x = np.array([0.0, 0.5, 1.0, 1.5])
    # Beta(2, 3): 6x^2 - 8x^3 + 3x^4 at 0.5 = 1.5 - 1 + 0.1875
    assert profile_cdf("flight", x).tolist() == pytest.approx([0.0, 0.6875, 1.0, 1.0])
    # the trapezoid is symmetric, and flat in the middle at 1 / 0.85 per unit time
    ship = profile_cdf("ship", np.array([0.5, 0.4, 0.6]))
    assert ship[0] == pytest.approx(0.5)
    assert (ship[2] - ship[1]) / 0.2 == pytest.approx(1 / 0.85)
    # the flight peaks at one third of over_min
    waves = [Wave(0.0, 900.0, "flight", 90.0)]
    assert int(np.argmax(expected_per_minute(waves, 0.0, 90))) in (29, 30)


@pytest.mark.parametrize("profile", ["flight", "ship"])
def test_inverse_cdf_round_trips(profile: str) -> None:
    u = np.linspace(0.001, 0.999, 50)
    x = profile_inverse_cdf(profile, u)  # type: ignore[arg-type]
    assert profile_cdf(profile, x) == pytest.approx(u, abs=1e-9)  # type: ignore[arg-type]


def test_sampling_is_seeded_and_follows_the_curve() -> None:
    waves = [Wave(10.0, 3000.0, "ship", 100.0)]
    a = sample_arrival_times(waves, np.random.default_rng(1), 0.0)
    b = sample_arrival_times(waves, np.random.default_rng(1), 0.0)
    assert np.array_equal(a, b)
    assert abs(a.shape[0] - 3000) < 4 * np.sqrt(3000)
    assert a.min() >= 10.0
    assert a.max() <= 110.0
    expected = expected_cumulative(waves, np.array([35.0, 60.0, 85.0])) / 3000
    observed = np.array([(a <= t).mean() for t in (35.0, 60.0, 85.0)])
    assert observed == pytest.approx(expected, abs=0.03)


def test_forecast_error_and_actual_factor() -> None:
    waves = [Wave(0.0, 1000.0, "flight", 30.0) for _ in range(40)]
    rng = np.random.default_rng(5)
    counts = [sample_arrival_times([w], rng, 0.15).shape[0] for w in waves]
    assert min(counts) >= 1000 * 0.85 - 120
    assert max(counts) <= 1000 * 1.15 + 120
    assert np.std(counts) > 40  # the error is really applied (Poisson alone: ~32)
    high = sample_arrival_times(waves[:10], np.random.default_rng(5), 0.0, actual_factor=1.2)
    assert high.shape[0] == pytest.approx(12000, rel=0.03)
