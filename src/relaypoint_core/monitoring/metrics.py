"""The Prometheus metrics RelayPoint exports, created on a registry you choose.

``RelayPointMetrics()`` registers every metric on prometheus-client's global ``REGISTRY``;
``RelayPointMetrics(CollectorRegistry())`` keeps a private set (tests, several apps in one process).
`default_metrics` returns the process-wide set, created on first use so that importing the
package registers nothing.

Label values are bounded by construction: routes are templates (``/items/{item_id}``), statuses
are classes (``2xx``..``5xx``), and free-form values (routes, plan tiers) pass through a
`LabelGuard` that folds anything past a cap into ``__other__``. Tenant ids, user ids and raw
paths are never labels. Cache metrics (``relaypoint_cache_*``) belong to ``relaypoint_cache`` and
rate-limit metrics (``relaypoint_ratelimit_*``) to ``relaypoint_ratelimit``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from relaypoint_core import __version__

__all__ = [
    "DEFAULT_LATENCY_BUCKETS",
    "OTHER_LABEL",
    "UNKNOWN_LABEL",
    "UNMATCHED_ROUTE",
    "LabelGuard",
    "RelayPointMetrics",
    "declare_db_query",
    "default_metrics",
    "status_class",
]

UNMATCHED_ROUTE = "__unmatched__"
OTHER_LABEL = "__other__"
UNKNOWN_LABEL = "unknown"

# Dense below 1 s (where the latency alert sits), sparse above.
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
DEFAULT_DB_BUCKETS: tuple[float, ...] = (
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
    2.5,
)
DEFAULT_WORKFLOW_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def status_class(status_code: int) -> str:
    """``"2xx"`` for 200..299 and so on; anything outside 100..599 is ``"5xx"`` (a broken reply)."""
    index = status_code // 100 - 1
    if 0 <= index < 5:
        return _STATUS_CLASSES[index]
    return "5xx"


class LabelGuard:
    """Admits at most ``limit`` distinct values of one label; later newcomers become ``__other__``.

    A backstop, not the primary defence: callers pass templates and tiers, which are few. Reads are
    a set lookup; the lock is taken only when a new value is admitted.
    """

    __slots__ = ("_lock", "_seen", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a label guard needs a positive limit, got {limit}")
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return OTHER_LABEL
            self._seen.add(value)
            return value

    def __len__(self) -> int:
        return len(self._seen)


class RelayPointMetrics:
    """Every ``relaypoint_`` metric of the core package, registered on one registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
        db_buckets: Sequence[float] = DEFAULT_DB_BUCKETS,
        workflow_buckets: Sequence[float] = DEFAULT_WORKFLOW_BUCKETS,
        max_routes: int = 500,
        max_plan_tiers: int = 20,
    ) -> None:
        self.registry = registry
        self.route_guard = LabelGuard(max_routes)
        self.plan_tier_guard = LabelGuard(max_plan_tiers)
        api_labels = ("method", "route", "status_class", "plan_tier")

        self.api_requests = Counter(
            "relaypoint_api_requests",
            "HTTP requests served, by route template, method, status class and plan tier.",
            api_labels,
            registry=registry,
        )
        self.api_errors = Counter(
            "relaypoint_api_errors",
            "HTTP requests that ended in a 5xx response or an unhandled exception.",
            api_labels,
            registry=registry,
        )
        self.api_request_duration = Histogram(
            "relaypoint_api_request_duration_seconds",
            "Time from request start to the end of the response body, in seconds.",
            ("method", "route", "plan_tier"),
            buckets=latency_buckets,
            registry=registry,
        )
        self.api_requests_in_progress = Gauge(
            "relaypoint_api_requests_in_progress",
            "HTTP requests currently being served.",
            ("method",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.db_query_duration = Histogram(
            "relaypoint_db_query_duration_seconds",
            "Database query time in seconds, by operation and table.",
            ("operation", "table"),
            buckets=db_buckets,
            registry=registry,
        )
        self.db_query_errors = Counter(
            "relaypoint_db_query_errors",
            "Database queries that raised, by operation and table.",
            ("operation", "table"),
            registry=registry,
        )
        self.db_pool_size = Gauge(
            "relaypoint_db_pool_size",
            "Connections the database pool may hold (pool size plus allowed overflow).",
            ("pool",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.db_pool_in_use = Gauge(
            "relaypoint_db_pool_connections_in_use",
            "Database connections currently checked out of the pool.",
            ("pool",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.workflows_executed = Counter(
            "relaypoint_workflows_executed",
            "Workflow executions that finished, by outcome (success or failure).",
            ("status",),
            registry=registry,
        )
        self.workflow_duration = Histogram(
            "relaypoint_workflow_duration_seconds",
            "Workflow execution time in seconds, by outcome.",
            ("status",),
            buckets=workflow_buckets,
            registry=registry,
        )
        self.workflows_in_progress = Gauge(
            "relaypoint_workflows_in_progress",
            "Workflow executions currently running.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.users_registered = Counter(
            "relaypoint_users_registered",
            "User accounts created, by plan tier.",
            ("plan_tier",),
            registry=registry,
        )
        self.user_logins = Counter(
            "relaypoint_user_logins",
            "Successful user logins, by plan tier.",
            ("plan_tier",),
            registry=registry,
        )
        self.health_check_status = Gauge(
            "relaypoint_health_check_status",
            "Last result of each health check: 1 healthy, 0.5 degraded, 0 unhealthy.",
            ("check",),
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.health_check_duration = Gauge(
            "relaypoint_health_check_duration_seconds",
            "Time the last run of each health check took, in seconds.",
            ("check",),
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.build_info = Gauge(
            "relaypoint_build_info",
            "Always 1; the label carries the RelayPoint version.",
            ("version",),
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.build_info.labels(__version__).set(1)
        # Series that exist at zero from start-up, so rates and alerts have data before the first
        # workflow run or query: both workflow outcomes, and every query site declared so far.
        for status in ("success", "failure"):
            self.workflows_executed.labels(status)
            self.workflow_duration.labels(status)
        with _declared_lock:
            _live_metrics.add(self)
            declared = sorted(_declared_db_queries)
        for operation, table in declared:
            self.declare_query_site(operation, table)

    def declare_query_site(self, operation: str, table: str) -> None:
        """Create the ``(operation, table)`` query series at zero (see `declare_db_query`)."""
        self.db_query_duration.labels(operation, table)
        self.db_query_errors.labels(operation, table)

    # Small helpers for the business counters, so callers need no label plumbing.
    def record_user_registered(self, plan_tier: str | None = None) -> None:
        self.users_registered.labels(self.plan_tier_guard(plan_tier or UNKNOWN_LABEL)).inc()

    def record_user_login(self, plan_tier: str | None = None) -> None:
        self.user_logins.labels(self.plan_tier_guard(plan_tier or UNKNOWN_LABEL)).inc()

    def set_db_pool_usage(self, *, in_use: int, size: int, pool: str = "default") -> None:
        """Publish how many of the pool's ``size`` connections are checked out."""
        if size < 0 or in_use < 0:
            raise ValueError("pool size and connections in use cannot be negative")
        self.db_pool_size.labels(pool).set(size)
        self.db_pool_in_use.labels(pool).set(in_use)


_declared_db_queries: set[tuple[str, str]] = set()
_live_metrics: weakref.WeakSet[RelayPointMetrics] = weakref.WeakSet()
_declared_lock = threading.Lock()


def declare_db_query(operation: str, table: str) -> None:
    """Create the ``(operation, table)`` query series at zero on every metrics set, now and later.

    ``@track_db_query`` calls it when it decorates, so a scrape right after start-up already
    shows each query site the code has.

    Args:
        operation: The SQL verb label, e.g. ``"SELECT"``.
        table: The table label.
    """
    with _declared_lock:
        _declared_db_queries.add((operation, table))
        live = list(_live_metrics)
    for metrics in live:
        metrics.declare_query_site(operation, table)


_default: RelayPointMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> RelayPointMetrics:
    """The process-wide metrics on prometheus-client's global registry, created on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = RelayPointMetrics()
    return _default
