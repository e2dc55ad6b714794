"""Helpers for your own tests: a monitor on a private registry, and reading samples back.

```python
from relaypoint_core.monitoring.testing import isolated_monitor, sample_value

monitor = isolated_monitor()
app.add_middleware(MetricsMiddleware, monitor=monitor)
...  # send requests
assert sample_value(monitor, "relaypoint_api_requests_total", route="/items/{item_id}") == 1
```
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.monitoring.health import DEFAULT_HEALTH_CHECK_TIMEOUT
from relaypoint_core.monitoring.metrics import RelayPointMetrics
from relaypoint_core.monitoring.monitor import PerformanceMonitor
from relaypoint_core.monitoring.reports import DEFAULT_MAX_SAMPLES, DEFAULT_RETENTION_SECONDS

__all__ = ["isolated_monitor", "metrics_text", "sample_value"]


def isolated_monitor(
    *,
    clock: Clock = system_clock,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    health_check_timeout: float = DEFAULT_HEALTH_CHECK_TIMEOUT,
) -> PerformanceMonitor:
    """A monitor whose metrics live on a fresh ``CollectorRegistry`` (``monitor.metrics.registry``)."""
    return PerformanceMonitor(
        metrics=RelayPointMetrics(CollectorRegistry()),
        clock=clock,
        max_samples=max_samples,
        retention_seconds=retention_seconds,
        health_check_timeout=health_check_timeout,
    )


def _registry(source: PerformanceMonitor | CollectorRegistry) -> CollectorRegistry:
    if isinstance(source, CollectorRegistry):
        return source
    registry = source.metrics.registry
    if registry is None:
        raise ValueError("this monitor's metrics are not registered on any registry")
    return registry


def sample_value(
    source: PerformanceMonitor | CollectorRegistry, name: str, **labels: str
) -> float | None:
    """The summed value of the samples called ``name`` whose labels include ``labels``."""
    total: float | None = None
    for family in _registry(source).collect():
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total = (total or 0.0) + sample.value
    return total


def metrics_text(source: PerformanceMonitor | CollectorRegistry) -> str:
    """What a scrape of ``source`` would return, in the Prometheus text format."""
    return generate_latest(_registry(source)).decode()
