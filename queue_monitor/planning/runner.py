"""Run a scenario under one or all policies: what ``bordergate simulate`` and the benchmark call."""

from __future__ import annotations

from collections.abc import Sequence

from queue_monitor.planning.policies import POLICY_NAMES, make_policy
from queue_monitor.planning.scenario import Scenario
from queue_monitor.planning.simulator import SimResult, draw_population, simulate


def policy_names(choice: str) -> tuple[str, ...]:
    """``all`` or one policy name; ``ValueError`` otherwise."""
    if choice == "all":
        return POLICY_NAMES
    if choice not in POLICY_NAMES:
        raise ValueError(f"unknown policy {choice!r}: one of all, {', '.join(POLICY_NAMES)}")
    return (choice,)


def run_policies(
    scenario: Scenario, names: Sequence[str], seed: int | None = None
) -> list[SimResult]:
    """Simulate ``scenario`` under each policy, all on the same travellers."""
    population = draw_population(scenario, seed)
    return [
        simulate(scenario, make_policy(name, scenario, population), population=population)
        for name in names
    ]
