"""The eligibility policy engine: effective-dated rules (``rules/*.yaml``) and their decisions.

``PolicyEngine.load()`` once at start, then ``engine.decide(case)`` per traveller.
"""

from backend.policy.case import PolicyCase, PolicyDecision
from backend.policy.engine import PolicyEngine, RuleResult
from backend.policy.ruleset import DEFAULT_RULES_DIR, RulesError, RuleSet, SchemePeriod, load_rules

__all__ = [
    "DEFAULT_RULES_DIR",
    "PolicyCase",
    "PolicyDecision",
    "PolicyEngine",
    "RuleResult",
    "RuleSet",
    "RulesError",
    "SchemePeriod",
    "load_rules",
]
