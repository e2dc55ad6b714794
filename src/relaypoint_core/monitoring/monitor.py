"""``PerformanceMonitor``: the one object behind the seed's ``performance_monitor``.

It ties together the Prometheus metrics (fleet-wide, scraped), the rolling store (this process's
recent history, for reports) and the health-check registry.
"""

from __future__ import annotations

from datetime import timedelta

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.monitoring.health import (
    DEFAULT_HEALTH_CHECK_TIMEOUT,
    CheckResult,
    HealthCheck,
    HealthRegistry,
    SystemHealth,
)
from relaypoint_core.monitoring.metrics import (
    UNKNOWN_LABEL,
    RelayPointMetrics,
    default_metrics,
    status_class,
)
from relaypoint_core.monitoring.reports import (
    DEFAULT_MAX_SAMPLES,
    DEFAULT_RETENTION_SECONDS,
    PerformanceReport,
    RollingStore,
    monotonic_reader,
)

__all__ = ["PerformanceMonitor", "performance_monitor"]


class PerformanceMonitor:
    """Metrics, recent-history reports and health checks of one application process."""

    def __init__(
        self,
        *,
        metrics: RelayPointMetrics | None = None,
        clock: Clock = system_clock,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        health_check_timeout: float = DEFAULT_HEALTH_CHECK_TIMEOUT,
    ) -> None:
        self._metrics = metrics
        self.clock = clock
        self.now = monotonic_reader(clock)
        """Monotonic seconds from ``clock`` (``time.monotonic`` itself for the system clock)."""
        self.store = RollingStore(
            clock=clock, max_samples=max_samples, retention_seconds=retention_seconds
        )
        self.health = HealthRegistry(
            default_timeout=health_check_timeout, clock=clock, on_result=self._publish_health
        )
        # Resolved once: the cache calls record_cache_access on every lookup.
        self._record_cache = self.store.cache_recorder()

    @property
    def metrics(self) -> RelayPointMetrics:
        """The Prometheus metrics this monitor writes to (the global set unless one was given)."""
        if self._metrics is None:
            self._metrics = default_metrics()
        return self._metrics

    # -- recording -------------------------------------------------------------------------
    def record_cache_access(self, hit: bool, *, tenant_id: str | None = None) -> None:
        """Count one cache lookup for the report's hit rate (Prometheus counters live in the cache)."""
        self._record_cache(hit, tenant_id)

    def record_request(
        self,
        *,
        route: str,
        method: str,
        status_code: int,
        duration: float,
        plan_tier: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        """Count one served request in the metrics and the rolling store."""
        metrics = self.metrics
        route = metrics.route_guard(route)
        tier = metrics.plan_tier_guard(plan_tier or UNKNOWN_LABEL)
        klass = status_class(status_code)
        metrics.api_requests.labels(method, route, klass, tier).inc()
        if klass == "5xx":
            metrics.api_errors.labels(method, route, klass, tier).inc()
        metrics.api_request_duration.labels(method, route, tier).observe(duration)
        self.store.record_request(route, duration, klass == "5xx", tenant_id)

    def record_workflow(
        self, *, duration: float, succeeded: bool, tenant_id: str | None = None
    ) -> None:
        status = "success" if succeeded else "failure"
        self.metrics.workflows_executed.labels(status).inc()
        self.metrics.workflow_duration.labels(status).observe(duration)
        self.store.record_workflow(duration, succeeded, tenant_id)

    def set_db_pool_usage(self, *, in_use: int, size: int, pool: str = "default") -> None:
        """Publish database pool usage (feeds the ``> 90% of pool`` alert)."""
        self.metrics.set_db_pool_usage(in_use=in_use, size=size, pool=pool)

    def record_user_registered(self, plan_tier: str | None = None) -> None:
        self.metrics.record_user_registered(plan_tier)

    def record_user_login(self, plan_tier: str | None = None) -> None:
        self.metrics.record_user_login(plan_tier)

    # -- health ----------------------------------------------------------------------------
    def register_health_check(
        self,
        name: str,
        check: HealthCheck,
        *,
        critical: bool = True,
        timeout: float | None = None,
        liveness: bool = False,
        readiness: bool = True,
    ) -> None:
        """Add a named check (sync or async); see `relaypoint_core.monitoring.health`."""
        self.health.register(
            name,
            check,
            critical=critical,
            timeout=timeout,
            liveness=liveness,
            readiness=readiness,
        )

    def unregister_health_check(self, name: str) -> None:
        self.health.unregister(name)

    async def check_system_health(self) -> SystemHealth:
        """Run every check in parallel; overall ``healthy``, ``degraded`` or ``unhealthy``."""
        return await self.health.run("system")

    async def check_liveness(self) -> SystemHealth:
        return await self.health.run("liveness")

    async def check_readiness(self) -> SystemHealth:
        return await self.health.run("readiness")

    def _publish_health(self, result: CheckResult) -> None:
        self.metrics.health_check_status.labels(result.name).set(result.status.score)
        self.metrics.health_check_duration.labels(result.name).set(result.duration_seconds)

    # -- reports ---------------------------------------------------------------------------
    async def get_performance_report(
        self,
        tenant_id: str | None = None,
        time_window: str | float | timedelta = "1h",
    ) -> PerformanceReport:
        """Requests, errors, latency percentiles, slowest routes, cache hit rate and workflows
        of the last ``time_window`` in this process (of ``tenant_id``, or of every tenant)."""
        return self.store.report(tenant_id=tenant_id, time_window=time_window)


performance_monitor = PerformanceMonitor()
"""The process-wide monitor of the seed's examples."""
