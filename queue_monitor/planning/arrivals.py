"""Arrival profiles: when the passengers of a flight or a ship reach the inspection hall.

Times are minutes after a reference instant (the scenario start, or "now" for the controller).

- ``flight``: passengers reach the hall over ``over_min`` after on-block. Nobody is there at
  on-block (doors, jet bridge, walk), the front of the cabin arrives in a rush and the tail
  thins out: a Beta(2, 3) density over ``[0, over_min]`` (mode at one third), CDF
  ``6x^2 - 8x^3 + 3x^4``.
- ``ship``: disembarkation is paced by the gangways: a trapezoid that ramps up over the first
  15% of ``over_min``, holds a constant flow, and ramps down over the last 15%.

``expected_per_minute`` is the forecast curve used by the forecaster (it integrates exactly to
the forecast count); ``sample_arrival_times`` draws the simulator's actual arrivals: each wave's
count is the forecast times ``actual_factor`` times a factor uniform in
``[1 - forecast_error, 1 + forecast_error]``, and each passenger's time is drawn independently
from the profile (so arrivals per minute are Poisson-like around the curve).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Profile = Literal["flight", "ship"]
FloatArray = npt.NDArray[np.float64]

SHIP_RAMP = 0.15


def profile_cdf(profile: Profile, x: FloatArray) -> FloatArray:
    """Share of a wave's passengers in the hall by fraction ``x`` of ``over_min`` (clipped)."""
    x = np.clip(x, 0.0, 1.0)
    if profile == "flight":
        return np.asarray(6 * x**2 - 8 * x**3 + 3 * x**4, dtype=np.float64)
    r = SHIP_RAMP
    height = 1.0 / (1.0 - r)  # area of the trapezoid = 1
    up = height * x**2 / (2 * r)
    mid = height * (r / 2 + (x - r))
    down = 1.0 - height * (1.0 - x) ** 2 / (2 * r)
    return np.asarray(np.where(x < r, up, np.where(x <= 1 - r, mid, down)), dtype=np.float64)


def profile_inverse_cdf(profile: Profile, u: FloatArray) -> FloatArray:
    """The fraction of ``over_min`` at which share ``u`` of the wave has arrived."""
    if profile == "ship":
        r = SHIP_RAMP
        height = 1.0 / (1.0 - r)
        u_r = height * r / 2
        up = np.sqrt(2 * r * u / height)
        mid = u / height + r / 2
        down = 1.0 - np.sqrt(np.maximum(2 * r * (1.0 - u) / height, 0.0))
        return np.asarray(np.where(u < u_r, up, np.where(u <= 1 - u_r, mid, down)))
    # Flight: invert the quartic CDF by bisection (vectorised, 40 halvings: < 1e-12).
    lo = np.zeros_like(u)
    hi = np.ones_like(u)
    for _ in range(40):
        mid_x = (lo + hi) / 2
        below = profile_cdf("flight", mid_x) < u
        lo = np.where(below, mid_x, lo)
        hi = np.where(below, hi, mid_x)
    return (lo + hi) / 2


class Wave:
    """A wave in minutes relative to a reference instant (plain values, for speed)."""

    __slots__ = ("at_min", "over_min", "passengers", "profile")

    def __init__(self, at_min: float, passengers: float, profile: Profile, over_min: float):
        self.at_min = at_min
        self.passengers = passengers
        self.profile: Profile = profile
        self.over_min = over_min


def expected_cumulative(waves: Iterable[Wave], t_min: FloatArray) -> FloatArray:
    """Expected passengers in the hall by each time in ``t_min`` (forecast counts)."""
    total = np.zeros_like(t_min, dtype=np.float64)
    for w in waves:
        total += w.passengers * profile_cdf(w.profile, (t_min - w.at_min) / w.over_min)
    return total


def expected_per_minute(waves: Sequence[Wave], start_min: float, minutes: int) -> FloatArray:
    """Expected arrivals in each minute ``[start + i, start + i + 1)``, ``i < minutes``."""
    edges = start_min + np.arange(minutes + 1, dtype=np.float64)
    return np.diff(expected_cumulative(waves, edges))


def sample_arrival_times(
    waves: Sequence[Wave],
    rng: np.random.Generator,
    forecast_error: float,
    actual_factor: float = 1.0,
) -> FloatArray:
    """Sorted actual arrival times (minutes) of all waves."""
    parts: list[FloatArray] = []
    for w in waves:
        factor = actual_factor * rng.uniform(1.0 - forecast_error, 1.0 + forecast_error)
        n = int(rng.poisson(w.passengers * factor)) if w.passengers > 0 else 0
        u = rng.random(n)
        parts.append(w.at_min + w.over_min * profile_inverse_cdf(w.profile, u))
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return np.sort(np.concatenate(parts))
