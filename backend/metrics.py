"""Prometheus metrics on a per-app registry (never the process-global default)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class BackendMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "bordergate_clearance_decisions",
            "Clearance decisions recorded, by hall and outcome",
            ["hall", "outcome"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "bordergate_clearance_decision_seconds",
            "Time to decide and record one clearance (its publish follows the answer)",
            ["hall"],
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "bordergate_clearance_retries",
            "Retries answered from the records (same request_id and body)",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "bordergate_outbox_pending",
            "Outbox events recorded but not yet published to Redis",
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "bordergate_outbox_published",
            "Outbox events published to Redis",
            registry=self.registry,
        )
        self.outbox_publish_failures = Counter(
            "bordergate_outbox_publish_failures",
            "Failed attempts to publish an outbox event (retried by the replay task)",
            registry=self.registry,
        )
