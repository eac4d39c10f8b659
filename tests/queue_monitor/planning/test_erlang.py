"""Erlang C: hand-computed cases and pyworkforce's ErlangC."""

from __future__ import annotations

import math

import pytest
from pyworkforce.queuing import ErlangC

from queue_monitor.planning.erlang import erlang_b, erlang_c, required_servers, service_level


def test_hand_computed() -> None:
    # B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2; C = 2 * 0.2 / (2 - 1 * 0.8) = 1/3
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # P(wait <= mean service) = 1 - C exp(-(c - A))
    assert service_level(2, 1.0, 60.0, 60.0) == pytest.approx(1 - math.exp(-1) / 3)
    # one server: C(1, A) = A
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(3, 3.0) == 1.0
    assert service_level(3, 3.5, 60.0, 60.0) == 0.0
    assert required_servers(0.0, 60.0, 60.0, 0.95, 10) == 0


@pytest.mark.parametrize("transactions", [10, 37, 120, 400, 900])
@pytest.mark.parametrize("aht_min", [0.4, 1.5, 4.0])
@pytest.mark.parametrize("target_min", [0.5, 5.0, 25.0])
def test_against_pyworkforce(transactions: int, aht_min: float, target_min: float) -> None:
    interval = 15
    ref = ErlangC(transactions=transactions, aht=aht_min, asa=target_min, interval=interval)
    load = transactions / interval * aht_min
    for c in range(math.floor(load) + 1, math.floor(load) + 6):
        assert erlang_c(c, load) == pytest.approx(ref.waiting_probability(c), rel=1e-9)
        ours = service_level(c, load, target_min * 60, aht_min * 60)
        assert ours == pytest.approx(ref.service_level(c), rel=1e-9, abs=1e-12)
    needed = required_servers(
        transactions / interval / 60, aht_min * 60, target_min * 60, 0.95, 999
    )
    theirs = ref.required_positions(service_level=0.95)["raw_positions"]
    # pyworkforce starts its search at round(A + 1), so it may overshoot by one; ours is minimal
    assert needed <= theirs
    assert service_level(needed, load, target_min * 60, aht_min * 60) >= 0.95
    if needed > math.floor(load) + 1:
        assert service_level(needed - 1, load, target_min * 60, aht_min * 60) < 0.95
    if theirs > round(load + 1):
        assert needed == theirs


def test_required_is_capped() -> None:
    assert required_servers(1.0, 90.0, 60.0, 0.95, 20) == 20  # 90 Erlangs, 20 desks
