"""Erlang C (M/M/c), written once; tested against pyworkforce's ``ErlangC``.

With offered load ``A = arrival rate x mean service time`` (Erlangs) and ``c`` servers:

- ``erlang_c(c, A)``: the probability that an arrival waits at all (1 when ``c <= A``);
- ``service_level(c, A, t, mean)``: ``P(wait <= t) = 1 - C(c, A) exp(-(c - A) t / mean)``;
- ``required_servers(...)``: the fewest servers meeting a service level.

Steady state only: it says nothing about a surge's backlog, which is why the controller uses the
fluid forecaster instead; the ``erlang`` policy uses this per 15-minute interval as the baseline.
"""

from __future__ import annotations

import math


def erlang_b(c: int, load: float) -> float:
    """Blocking probability of M/M/c/c (stable recursion)."""
    if c < 0 or load < 0:
        raise ValueError("c and load must be non-negative")
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(c: int, load: float) -> float:
    """Probability of waiting in M/M/c with offered load ``load`` Erlangs."""
    if load < 0:
        raise ValueError("load must be non-negative")
    if load == 0:
        return 0.0
    if c <= load:
        return 1.0
    b = erlang_b(c, load)
    return c * b / (c - load * (1.0 - b))


def service_level(c: int, load: float, target_s: float, mean_service_s: float) -> float:
    """``P(wait <= target_s)`` in steady state (0 when unstable)."""
    if mean_service_s <= 0:
        raise ValueError("mean_service_s must be positive")
    if load == 0:
        return 1.0
    if c <= load:
        return 0.0
    return max(0.0, 1.0 - erlang_c(c, load) * math.exp(-(c - load) * target_s / mean_service_s))


def required_servers(
    rate_per_s: float, mean_service_s: float, target_s: float, share: float, max_servers: int
) -> int:
    """Fewest servers (at most ``max_servers``) with ``P(wait <= target_s) >= share``.

    Returns ``max_servers`` when even that is not enough; 0 when nothing arrives.
    """
    load = rate_per_s * mean_service_s
    if load <= 0:
        return 0
    c = max(1, math.floor(load) + 1)
    while c < max_servers and service_level(c, load, target_s, mean_service_s) < share:
        c += 1
    return min(c, max_servers)
