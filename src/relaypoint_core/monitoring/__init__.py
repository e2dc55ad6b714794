"""Observability: Prometheus metrics, tracking helpers, health checks and performance reports.

The seed's API::

    from relaypoint_core.monitoring import (
        performance_monitor, track_api_metrics, track_db_query, track_workflow_execution,
    )

The ASGI pieces (``MetricsMiddleware``, ``metrics_app``, ``health_app``) live in
`relaypoint_core.monitoring.asgi`; multiprocess helpers in
`relaypoint_core.monitoring.multiprocess`; Sentry in `relaypoint_core.monitoring.sentry`.
Nothing here imports a web framework.
"""

from __future__ import annotations

from relaypoint_core.monitoring.decorators import (
    DbQueryTracker,
    WorkflowExecution,
    track_api_metrics,
    track_db_query,
    track_workflow_execution,
)
from relaypoint_core.monitoring.errors import (
    HealthCheckRegistrationError,
    InvalidTimeWindowError,
    MonitoringConfigurationError,
)
from relaypoint_core.monitoring.health import (
    CheckResult,
    HealthRegistry,
    HealthStatus,
    SystemHealth,
)
from relaypoint_core.monitoring.metrics import (
    UNMATCHED_ROUTE,
    LabelGuard,
    RelayPointMetrics,
    default_metrics,
    status_class,
)
from relaypoint_core.monitoring.monitor import PerformanceMonitor, performance_monitor
from relaypoint_core.monitoring.reports import (
    LatencyPercentiles,
    PerformanceReport,
    RollingStore,
    RouteLatency,
    parse_time_window,
)

__all__ = [
    "UNMATCHED_ROUTE",
    "CheckResult",
    "DbQueryTracker",
    "HealthCheckRegistrationError",
    "HealthRegistry",
    "HealthStatus",
    "InvalidTimeWindowError",
    "LabelGuard",
    "LatencyPercentiles",
    "MonitoringConfigurationError",
    "PerformanceMonitor",
    "PerformanceReport",
    "RelayPointMetrics",
    "RollingStore",
    "RouteLatency",
    "SystemHealth",
    "WorkflowExecution",
    "default_metrics",
    "parse_time_window",
    "performance_monitor",
    "status_class",
    "track_api_metrics",
    "track_db_query",
    "track_workflow_execution",
]
