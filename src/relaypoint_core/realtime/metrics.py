"""Prometheus metrics of the real-time layer, every name prefixed `relaypoint_realtime_`.

Labels are bounded by construction: outcomes, refusal codes, targets and disconnect reasons are
fixed sets, and event names are the events a server registered (anything else is `__other__`,
and a `LabelGuard` caps even registered names). Tenant ids, user ids and sids are never labels.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from relaypoint_core.monitoring.metrics import OTHER_LABEL, LabelGuard

__all__ = ["REFUSAL_CODES", "RealtimeMetrics", "default_realtime_metrics"]

REFUSAL_CODES = frozenset(
    {
        "missing_token",
        "invalid_token",
        "expired_token",
        "revoked_token",
        "tenant_mismatch",
        "no_tenant",
        "tenant_refused",
        "unavailable",
    }
)
MESSAGE_OUTCOMES = frozenset(
    {"handled", "forbidden", "rate_limited", "unknown_event", "reauthenticate", "invalid", "error"}
)
DISCONNECT_REASONS = frozenset({"expired", "revoked", "client", "server"})
TARGETS = frozenset({"tenant", "user", "role", "connection"})


class RealtimeMetrics:
    """The real-time collectors, registered on `registry` (a private one in tests).

    Args:
        registry: Where to register; prometheus-client's global registry by default.
        event_label_limit: How many distinct event names may appear as label values.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, event_label_limit: int = 64
    ) -> None:
        registry = registry if registry is not None else REGISTRY
        self._events = LabelGuard(event_label_limit)
        self.connections = Gauge(
            "relaypoint_realtime_connections",
            "Socket.IO connections open on this instance",
            registry=registry,
        )
        self.connection_attempts = Counter(
            "relaypoint_realtime_connection_attempts_total",
            "Connection attempts, by outcome (accepted, or the refusal code)",
            ["outcome"],
            registry=registry,
        )
        self.messages_in = Counter(
            "relaypoint_realtime_messages_in_total",
            "Inbound messages, by registered event name and outcome",
            ["event", "outcome"],
            registry=registry,
        )
        self.messages_out = Counter(
            "relaypoint_realtime_messages_out_total",
            "Emissions by this instance (one per emit, whatever the number of recipients)",
            ["target"],
            registry=registry,
        )
        self.disconnects = Counter(
            "relaypoint_realtime_disconnects_total",
            "Closed connections, by reason (expired/revoked: the server ended them)",
            ["reason"],
            registry=registry,
        )
        self.backend_errors = Counter(
            "relaypoint_realtime_backend_errors_total",
            "Failed calls to a backend (publish to Redis, revocation store, message limiter)",
            ["operation"],
            registry=registry,
        )

    def event_label(self, event: str, registered: bool) -> str:
        return self._events(event) if registered else OTHER_LABEL

    def attempt(self, outcome: str) -> None:
        self.connection_attempts.labels(
            outcome if outcome in REFUSAL_CODES or outcome == "accepted" else OTHER_LABEL
        ).inc()

    def message_in(self, event_label: str, outcome: str) -> None:
        self.messages_in.labels(event_label, outcome).inc()

    def message_out(self, target: str) -> None:
        self.messages_out.labels(target).inc()

    def disconnect(self, reason: str) -> None:
        self.disconnects.labels(reason if reason in DISCONNECT_REASONS else OTHER_LABEL).inc()

    def backend_error(self, operation: str) -> None:
        self.backend_errors.labels(operation).inc()


_default: RealtimeMetrics | None = None
_lock = threading.Lock()


def default_realtime_metrics() -> RealtimeMetrics:
    """The process-wide metrics on the global registry, created on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = RealtimeMetrics()
        return _default
