"""Compare the staffing policies on every shipped scenario, several seeds; check the figures.

Run from the project root: ``.venv/bin/python benchmarks/queue.py [--seeds 3]``. Not a test.

For each scenario and seed the travellers are drawn once and every policy sees the same ones.
A scenario-seed is *feasible* when opening every installed lane from the start (zero delay,
a run called ``all-lanes``) keeps 95% of travellers within 25 minutes; the figures are:

1. bordergate keeps >= 95% within 25 minutes in every feasible scenario-seed; in the others it
   alerts at least 30 minutes before the first traveller passes 25 minutes;
2. it uses fewer officer lane-hours than erlang where both meet the target;
3. it uses at most 15% more officer lane-hours than clairvoyant (where bordergate meets the
   target);
4. one controller decision takes under 50 ms (the p99 of all timed decisions: the max measures
   the machine's hiccups, not the controller); a 12-hour scenario simulates in under 10 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named queue.py: as a script its directory would shadow the standard library's
# ``queue`` (which redis imports). Put the project root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

from queue_monitor.planning.controller import (  # noqa: E402
    ControlDecision,
    ControllerConfig,
    HallSnapshot,
    decide,
)
from queue_monitor.planning.policies import (  # noqa: E402
    POLICY_NAMES,
    BordergatePolicy,
    make_policy,
)
from queue_monitor.planning.report import metrics  # noqa: E402
from queue_monitor.planning.scenario import Scenario, load_scenario, shipped_scenarios  # noqa: E402
from queue_monitor.planning.simulator import draw_population, simulate  # noqa: E402

TARGET_SHARE = 0.95


@dataclass
class AllLanes:
    """Every installed lane open all the time, instantly: can the hall meet the target at all?"""

    name: str = "all-lanes"
    relaxed: bool = True

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        from queue_monitor.planning.policies import lane_commands, make_decision

        n_e, n_o = snapshot.egate.installed, snapshot.officer.installed
        cmds = lane_commands(snapshot.egate, "egate", n_e, n_e, snapshot.now, "all")
        cmds += lane_commands(snapshot.officer, "officer", n_o, n_o, snapshot.now, "all")
        return make_decision(snapshot.now, cmds)


class TimedBordergate(BordergatePolicy):
    def __init__(self, config: ControllerConfig) -> None:
        super().__init__(config=config)
        self.times: list[float] = []

    def decide(self, snapshot: HallSnapshot) -> ControlDecision:
        t = time.perf_counter()
        d = decide(snapshot, self.config)
        self.times.append(time.perf_counter() - t)
        return d


def run(scenario: Scenario, seed: int, config: ControllerConfig) -> dict[str, Any]:
    pop = draw_population(scenario, seed)
    rows: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    decision_times: list[float] = []
    for name in POLICY_NAMES:
        t = time.perf_counter()
        policy: Any
        if name == "bordergate":
            policy = TimedBordergate(config)
        else:
            policy = make_policy(name, scenario, pop)
        result = simulate(scenario, policy, population=pop)
        timings[name] = time.perf_counter() - t
        rows[name] = metrics(result)
        if isinstance(policy, TimedBordergate):
            decision_times = policy.times
    full = metrics(simulate(scenario, AllLanes(), population=pop))
    return {"rows": rows, "timings": timings, "decisions": decision_times, "full": full}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plan-wait", type=float, default=ControllerConfig().plan_wait_min)
    parser.add_argument("--utilisation", type=float, default=ControllerConfig().utilisation)
    parser.add_argument("--scenario", action="append", help="only these (name or path)")
    args = parser.parse_args()
    config = ControllerConfig(plan_wait_min=args.plan_wait, utilisation=args.utilisation)
    paths = args.scenario or [str(p) for p in shipped_scenarios()]
    checks: list[tuple[bool, str]] = []
    all_decisions: list[float] = []
    sim_times: list[float] = []
    head = (
        f"{'scenario':<24}{'seed':>5} {'policy':<12}{'pax':>6}{'share25':>9}{'p95':>8}"
        f"{'max':>8}{'off-h':>8}{'egate-h':>8}{'alerts':>7}{'lead':>7}{'sim s':>7}"
    )
    print(head)
    print("-" * len(head))
    for path in paths:
        scenario = load_scenario(path)
        for s in range(args.seeds):
            seed = scenario.seed + s
            out = run(scenario, seed, config)
            rows = out["rows"]
            full = out["full"]
            all_decisions += out["decisions"]
            sim_times += list(out["timings"].values())
            for name in (*POLICY_NAMES, "all-lanes"):
                m = full if name == "all-lanes" else rows[name]
                lead = m["first_alert_lead_min"]
                print(
                    f"{scenario.name:<24}{seed:>5} {name:<12}{m['passengers']:>6}"
                    f"{m['share_within_25min']:>9.3f}{m['p95_wait_min']:>8.1f}"
                    f"{m['max_wait_min']:>8.1f}{m['officer_lane_hours']:>8.1f}"
                    f"{m['egate_lane_hours']:>8.1f}{m['alerts']:>7}"
                    f"{'-' if lead is None else f'{lead:.0f}':>7}"
                    f"{out['timings'].get(name, 0.0):>7.2f}"
                )
            print()
            bg, er, cv = rows["bordergate"], rows["erlang"], rows["clairvoyant"]
            where = f"{scenario.name} seed {seed}"
            feasible = full["share_within_25min"] >= TARGET_SHARE
            if feasible:
                checks.append(
                    (
                        bg["share_within_25min"] >= TARGET_SHARE,
                        f"1 share >= 95% ({where}: {bg['share_within_25min']:.3f})",
                    )
                )
            else:
                lead = bg["first_alert_lead_min"]
                checks.append(
                    (
                        lead is not None and lead >= 30,
                        f"1 infeasible, alert lead >= 30 min ({where}: all lanes "
                        f"{full['share_within_25min']:.3f}, lead {lead})",
                    )
                )
            if (
                bg["share_within_25min"] >= TARGET_SHARE
                and er["share_within_25min"] >= TARGET_SHARE
            ):
                checks.append(
                    (
                        bg["officer_lane_hours"] < er["officer_lane_hours"],
                        f"2 fewer officer lane-hours than erlang ({where}: "
                        f"{bg['officer_lane_hours']:.1f} vs {er['officer_lane_hours']:.1f})",
                    )
                )
            if bg["share_within_25min"] >= TARGET_SHARE:
                ratio = bg["officer_lane_hours"] / max(cv["officer_lane_hours"], 1e-9)
                checks.append(
                    (
                        ratio <= 1.15,
                        f"3 at most 15% over clairvoyant ({where}: "
                        f"{bg['officer_lane_hours']:.1f} vs {cv['officer_lane_hours']:.1f}, "
                        f"+{(ratio - 1) * 100:.0f}%)",
                    )
                )
    # The p99, not the max: the max of some 2,000 timed calls measures the machine (a GC pause,
    # another process on the core), not the controller; the p99 still bounds its slow cases.
    ms = sorted(t * 1000 for t in all_decisions)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, math.ceil(0.99 * len(ms)) - 1)]
    checks.append(
        (
            p99 < 50,
            f"4 controller decision < 50 ms (p99 {p99:.1f}; median {p50:.1f}, max {ms[-1]:.1f},"
            f" {len(ms)} decisions)",
        )
    )
    checks.append((max(sim_times) < 10, f"4 one 12-hour run < 10 s (max {max(sim_times):.2f} s)"))
    print("Checks")
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'} {text}")
    failed = sum(1 for ok, _ in checks if not ok)
    print(f"{len(checks) - failed}/{len(checks)} checks pass  ({datetime.now():%Y-%m-%d %H:%M})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
