"""Prometheus metrics of the rate limiter, every name prefixed ``relaypoint_ratelimit_``.

Labels are bounded: tier names come from the configured ``TierSet``
(anything else is reported as ``other``), outcomes and sources are fixed sets, and the backend label
is ``memory`` or ``redis``. No user id, tenant id or path ever becomes a label value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["RateLimitMetrics", "default_metrics"]

_CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


class RateLimitMetrics:
    """The limiter's collectors, registered on ``registry`` (a private one in tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else REGISTRY
        # Decisions are counted on every request: plain integers (one-element lists the limiter
        # can hold on to and bump), exported by a collector at scrape time, cost far less than a
        # locked prometheus Counter per request.
        self._decision_counts: dict[tuple[str, str, str], list[int]] = {}
        self.decisions = _DecisionCollector(self._decision_counts)
        registry.register(self.decisions)
        self.backend_latency = Histogram(
            "relaypoint_ratelimit_backend_latency_seconds",
            "Latency of one rate-limit backend call (one script call per request on Redis)",
            ["backend"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend_errors = Counter(
            "relaypoint_ratelimit_backend_errors_total",
            "Rate-limit backend calls that failed or timed out",
            ["backend", "kind"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "relaypoint_ratelimit_circuit_state",
            "Circuit breaker state of the rate-limit backend: 0 closed, 1 half-open, 2 open",
            ["backend"],
            registry=registry,
        )
        self.circuit_transitions = Counter(
            "relaypoint_ratelimit_circuit_transitions_total",
            "Circuit breaker state changes of the rate-limit backend",
            ["backend", "state"],
            registry=registry,
        )
        self.would_limit_total = Counter(
            "relaypoint_ratelimit_would_limit",
            "Requests a shadow (dry-run) policy would have refused, by policy and tier",
            ["policy", "tier"],
            registry=registry,
        )
        self.unpaid_total = Counter(
            "relaypoint_ratelimit_unpaid_cost",
            "Cost units a settlement could not charge without exceeding a limit, by policy set",
            ["tier"],
            registry=registry,
        )
        self.lease_outcomes = Counter(
            "relaypoint_ratelimit_leases",
            "Concurrency lease requests by policy and outcome (granted/refused)",
            ["policy", "outcome"],
            registry=registry,
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def would_limit(self, policy: str, tier: str) -> None:
        key = ("w", policy, tier)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.would_limit_total.labels(policy, tier)
        child.inc()

    def unpaid(self, tier: str, units: int) -> None:
        self.unpaid_total.labels(tier).inc(units)

    def lease(self, policy: str, outcome: str) -> None:
        self.lease_outcomes.labels(policy, outcome).inc()

    def decision(self, tier: str, outcome: str, source: str) -> None:
        self.decision_cell(tier, outcome, source)[0] += 1

    def decision_cell(self, tier: str, outcome: str, source: str) -> list[int]:
        """The count of one label set as a one-element list: ``cell[0] += 1`` counts a decision."""
        key = (tier, outcome, source)
        cell = self._decision_counts.get(key)
        if cell is None:
            cell = self._decision_counts[key] = [0]
        return cell

    def latency(self, backend: str, seconds: float) -> None:
        key = ("l", backend)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.backend_latency.labels(backend)
        child.observe(seconds)

    def backend_error(self, backend: str, kind: str) -> None:
        self.backend_errors.labels(backend, kind).inc()

    def circuit(self, backend: str, state: str) -> None:
        self.circuit_state.labels(backend).set(_CIRCUIT_VALUES.get(state, -1))
        self.circuit_transitions.labels(backend, state).inc()


class _DecisionCollector(Collector):
    """Exports ``relaypoint_ratelimit_decisions_total`` from the limiter's own counts."""

    _NAME = "relaypoint_ratelimit_decisions"
    _HELP = (
        "Rate-limit decisions by tier, outcome (allowed/limited/failed_open/failed_closed) "
        "and source"
    )

    def __init__(self, counts: dict[tuple[str, str, str], list[int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._NAME, self._HELP, labels=["tier", "outcome", "source"])
        for labels, cell in list(self._counts.items()):
            family.add_metric(list(labels), cell[0])
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self._NAME, self._HELP, labels=["tier", "outcome", "source"])


_default: RateLimitMetrics | None = None


def default_metrics() -> RateLimitMetrics:
    """The process-wide metrics on prometheus-client's default registry (created once)."""
    global _default
    if _default is None:
        _default = RateLimitMetrics()
    return _default
