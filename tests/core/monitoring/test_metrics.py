"""Metric definitions: registries, label guards, status classes and the public import surface."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, CollectorRegistry

from relaypoint_core import __version__
from relaypoint_core.monitoring import (
    LabelGuard,
    PerformanceMonitor,
    RelayPointMetrics,
    default_metrics,
    status_class,
)
from relaypoint_core.monitoring.metrics import OTHER_LABEL


@given(st.integers(min_value=100, max_value=599))
def test_status_class_is_the_hundreds_digit(code: int) -> None:
    assert status_class(code) == f"{code // 100}xx"


@pytest.mark.parametrize("code", [0, 99, 600, 999, -1])
def test_nonsense_status_counts_as_a_server_error(code: int) -> None:
    assert status_class(code) == "5xx"


@given(st.lists(st.text(min_size=1, max_size=8), max_size=200), st.integers(1, 20))
def test_label_guard_never_admits_more_than_its_limit(values: list[str], limit: int) -> None:
    guard = LabelGuard(limit)
    seen = {guard(v) for v in values}
    assert len(seen - {OTHER_LABEL}) <= limit
    admitted = list(dict.fromkeys(values))[:limit]
    assert all(guard(v) == v for v in admitted)


def test_private_registries_are_independent_and_duplicates_are_refused() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    a, b = RelayPointMetrics(first), RelayPointMetrics(second)
    a.api_requests.labels("GET", "/x", "2xx", "free").inc()
    assert (
        first.get_sample_value(
            "relaypoint_api_requests_total",
            {"method": "GET", "route": "/x", "status_class": "2xx", "plan_tier": "free"},
        )
        == 1
    )
    assert (
        second.get_sample_value(
            "relaypoint_api_requests_total",
            {"method": "GET", "route": "/x", "status_class": "2xx", "plan_tier": "free"},
        )
        is None
    )
    assert b.registry is second
    assert first.get_sample_value("relaypoint_build_info", {"version": __version__}) == 1
    with pytest.raises(ValueError, match="Duplicated"):
        RelayPointMetrics(first)


def test_default_metrics_live_on_the_global_registry_once() -> None:
    assert default_metrics() is default_metrics()
    assert default_metrics().registry is REGISTRY
    assert PerformanceMonitor().metrics is default_metrics()


def test_business_and_pool_helpers() -> None:
    registry = CollectorRegistry()
    metrics = RelayPointMetrics(registry, max_plan_tiers=2)
    metrics.record_user_registered("pro")
    metrics.record_user_registered(None)
    metrics.record_user_registered("enterprise")  # third distinct tier: folded
    metrics.record_user_login("pro")
    metrics.set_db_pool_usage(in_use=9, size=10, pool="primary")
    get = registry.get_sample_value
    assert get("relaypoint_users_registered_total", {"plan_tier": "pro"}) == 1
    assert get("relaypoint_users_registered_total", {"plan_tier": "unknown"}) == 1
    assert get("relaypoint_users_registered_total", {"plan_tier": OTHER_LABEL}) == 1
    assert get("relaypoint_user_logins_total", {"plan_tier": "pro"}) == 1
    assert get("relaypoint_db_pool_connections_in_use", {"pool": "primary"}) == 9
    assert get("relaypoint_db_pool_size", {"pool": "primary"}) == 10
    with pytest.raises(ValueError, match="negative"):
        metrics.set_db_pool_usage(in_use=-1, size=10)


def test_importing_monitoring_loads_no_web_framework_and_registers_nothing() -> None:
    code = (
        "import sys\n"
        "import prometheus_client\n"
        "def names():\n"
        "    return {m.name for m in prometheus_client.REGISTRY.collect()}\n"
        "before = names()\n"
        "import relaypoint_core.monitoring, relaypoint_core.monitoring.asgi\n"
        "import relaypoint_core.monitoring.multiprocess, relaypoint_core.monitoring.sentry\n"
        "from relaypoint_core.monitoring import performance_monitor, track_api_metrics, "
        "track_db_query, track_workflow_execution\n"
        "performance_monitor.record_cache_access(True, tenant_id='acme')\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "bad = loaded & {'fastapi', 'starlette', 'sentry_sdk', 'sqlalchemy', 'redis'}\n"
        "assert not bad, bad\n"
        "assert names() == before\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_testing_helpers_read_back_what_was_recorded() -> None:
    from relaypoint_core.monitoring.testing import isolated_monitor, metrics_text, sample_value

    monitor = isolated_monitor()
    monitor.record_request(route="/a", method="GET", status_code=200, duration=0.1)
    monitor.record_request(route="/a", method="GET", status_code=503, duration=0.2)
    assert sample_value(monitor, "relaypoint_api_requests_total", route="/a") == 2
    assert sample_value(monitor, "relaypoint_api_errors_total", route="/a") == 1
    assert sample_value(monitor, "relaypoint_api_requests_total", route="/b") is None
    assert 'route="/a"' in metrics_text(monitor)
    assert isolated_monitor().metrics.registry is not monitor.metrics.registry
