"""benchmarks/load.py: the peak-hour arithmetic, its helpers, and one quick run end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.load import PeakHour, percentile, tree_cpu_s
from tests.processes import REPO_ROOT

PHASE_KEYS = {
    "mode",
    "decisions",
    "decisions_per_s",
    "outcomes",
    "errors",
    "latency_ms",
    "server_cpu_s",
    "cpu_ms_per_decision",
    "redis_cpu_s",
    "client_cpu_s",
}


def test_peak_hour_rate_follows_from_the_stated_assumptions() -> None:
    peak = PeakHour()
    # 39.05 M crossings a year, half of them entries, x1.3 on the peak day, 12% in its busiest hour.
    assert round(peak.arrivals_per_hour) == 8345
    assert peak.rate_per_s == pytest.approx(2.318, abs=0.001)
    assert PeakHour(peak_hour_share=0.24).rate_per_s == pytest.approx(2 * peak.rate_per_s)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass"


def test_tree_cpu_counts_the_cpu_of_children_that_ended() -> None:
    before = tree_cpu_s(os.getpid())
    subprocess.run([sys.executable, "-c", BURN], check=True)  # reaped: counted in cutime
    assert tree_cpu_s(os.getpid()) - before >= 0.3


def _processes_with_env(marker: str) -> list[int]:
    """PIDs whose environment holds ``marker`` (every process the run started inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_quick_run_decides_without_errors_and_leaves_no_process(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed; run scripts/setup.sh test")
    marker = f"BORDERGATE_LOAD_TEST_RUN={tmp_path.name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERGATE_")}
    env.update({"TMPDIR": str(tmp_path), marker.split("=")[0]: tmp_path.name})
    done = subprocess.run(
        [sys.executable, "benchmarks/load.py", "--quick", "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    assert {"summary", "config", "peak_hour", "target", "backend", "bare", "ratio"} <= set(figures)
    assert figures["config"]["kiosks"] >= 200
    assert figures["peak_hour"]["rate_per_s"] == pytest.approx(2.318, abs=0.001)
    for server in ("backend", "bare"):
        assert {"peak", "max"} <= set(figures[server])
        for phase in figures[server].values():
            assert set(phase) >= PHASE_KEYS
    backend = figures["backend"]
    # At the load the target is set for (and ten times it), every traveller is decided in time.
    for name, phase in backend.items():
        if phase["mode"] == "open":
            assert phase["decisions"] > 0, name
            assert phase["errors"] == 0, (name, phase["error_kinds"])
    assert backend["max"]["decisions"] + backend["max"]["errors"] > 0
    # Both paths ran: some travellers admitted, some referred.
    outcomes: dict[str, int] = {}
    for phase in backend.values():
        for outcome, n in phase["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    assert outcomes.get("admit", 0) > 0
    assert outcomes.get("refer", 0) > 0
    assert backend["max"]["server_cpu_s"] > 0
    assert figures["target"]["p99_ms_at_peak"] > 0
    assert figures["records"]["match"] is True
    assert figures["records"]["answered_not_recorded"] == 0
    monitor = figures["monitor"]
    assert monitor["one_monitor"]["events_per_s"] > 0
    assert monitor["two_monitors"]["each_event_once"] is True
    assert all(n > 0 for n in monitor["two_monitors"]["applied_by_monitor"])
    # Every process the run started is gone (they all inherited the marker).
    assert _processes_with_env(marker) == []
