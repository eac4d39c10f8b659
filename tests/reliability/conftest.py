"""Fixtures of the cross-process fault tests: a ``Cluster`` of real processes per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.cluster import Cluster


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """``make_cluster(aof=...)``: a Cluster in tmp_path; every process it started is stopped
    (by PID) when the test ends, whatever happened."""
    made: list[Cluster] = []

    def make(*, aof: bool = False) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(made)}", aof=aof)
        cluster.tmp.mkdir(parents=True, exist_ok=True)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.__exit__(None, None, None)
