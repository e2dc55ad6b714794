"""The seed's tracking helpers, driven by a fake clock."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from relaypoint_core.monitoring import track_api_metrics, track_db_query, track_workflow_execution
from relaypoint_core.tenant_context import tenant_scope
from relaypoint_core.testing import FakeClock
from tests.core.monitoring.support import private_monitor


async def test_track_db_query_times_async_and_sync_functions_and_counts_failures() -> None:
    clock = FakeClock()
    monitor, registry = private_monitor(clock)

    @track_db_query("select", "workflows", monitor=monitor)
    async def query_workflows() -> list[int]:
        clock.advance(0.25)
        return [1, 2]

    @track_db_query("INSERT", "users", monitor=monitor)
    def insert_user() -> None:
        clock.advance(0.5)
        raise RuntimeError("unique violation")

    assert await query_workflows() == [1, 2]
    assert query_workflows.__name__ == "query_workflows"
    with pytest.raises(RuntimeError):
        insert_user()
    async with track_db_query("UPDATE", "workflows", monitor=monitor):
        clock.advance(0.125)
    with track_db_query("DELETE", "sessions", monitor=monitor):
        clock.advance(0.5)

    def get(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    hist = "relaypoint_db_query_duration_seconds"
    assert get(f"{hist}_sum", operation="SELECT", table="workflows") == 0.25
    assert get(f"{hist}_count", operation="INSERT", table="users") == 1
    assert get("relaypoint_db_query_errors_total", operation="INSERT", table="users") == 1
    # Declared at zero by the decorator; no failure has been counted.
    assert get("relaypoint_db_query_errors_total", operation="SELECT", table="workflows") == 0
    assert get(f"{hist}_sum", operation="UPDATE", table="workflows") == 0.125
    assert get(f"{hist}_bucket", operation="DELETE", table="sessions", le="0.5") == 1


@pytest.mark.parametrize(
    ("operation", "table"),
    [("", "t"), ("SELECT;DROP", "t"), ("SELECT", ""), ("SELECT", "users; --"), (1, "t")],
)
def test_track_db_query_refuses_unbounded_label_values(operation: object, table: str) -> None:
    with pytest.raises(ValueError, match=r"operation|table"):
        track_db_query(operation, table)  # type: ignore[arg-type]


async def test_track_workflow_execution_counts_outcomes_and_feeds_reports() -> None:
    clock = FakeClock()
    monitor, registry = private_monitor(clock)

    async with track_workflow_execution("tenant_123", "workflow_456", monitor=monitor) as run:
        assert run.workflow_id == "workflow_456"
        assert registry.get_sample_value("relaypoint_workflows_in_progress") == 1
        clock.advance(2.0)
    with pytest.raises(ValueError, match="step failed"):
        async with track_workflow_execution("tenant_123", "workflow_789", monitor=monitor):
            raise ValueError("step failed")
    async with track_workflow_execution("other", "w", monitor=monitor) as run:
        run.succeeded = False  # a handled, business-level failure

    assert registry.get_sample_value("relaypoint_workflows_in_progress") == 0
    executed = "relaypoint_workflows_executed_total"
    assert registry.get_sample_value(executed, {"status": "success"}) == 1
    assert registry.get_sample_value(executed, {"status": "failure"}) == 2
    assert (
        registry.get_sample_value("relaypoint_workflow_duration_seconds_sum", {"status": "success"})
        == 2.0
    )
    report = await monitor.get_performance_report(tenant_id="tenant_123", time_window="1h")
    assert report.workflows_executed == 2
    assert report.workflows_failed == 1
    # Tenant and workflow ids never become label values.
    for metric in registry.collect():
        for sample in metric.samples:
            assert "tenant_123" not in sample.labels.values()
            assert "workflow_456" not in sample.labels.values()


async def test_track_api_metrics_outside_the_middleware_records_the_call() -> None:
    clock = FakeClock()
    monitor, registry = private_monitor(clock)

    @track_api_metrics("/api/v1/workflows", monitor=monitor)
    async def list_workflows() -> list[str]:
        clock.advance(0.1)
        return []

    @track_api_metrics("/api/v1/workflows/{id}", "delete", monitor=monitor)
    def delete_workflow(fail_with: int | None) -> None:
        if fail_with is not None:
            raise HTTPException(status_code=fail_with)

    with tenant_scope("acme"):
        assert await list_workflows() == []
        delete_workflow(None)
        with pytest.raises(HTTPException):
            delete_workflow(404)
        with pytest.raises(HTTPException):
            delete_workflow(503)

    def count(route: str, method: str, klass: str) -> float | None:
        return registry.get_sample_value(
            "relaypoint_api_requests_total",
            {"route": route, "method": method, "status_class": klass, "plan_tier": "unknown"},
        )

    assert count("/api/v1/workflows", "GET", "2xx") == 1
    assert count("/api/v1/workflows/{id}", "DELETE", "2xx") == 1
    assert count("/api/v1/workflows/{id}", "DELETE", "4xx") == 1
    assert count("/api/v1/workflows/{id}", "DELETE", "5xx") == 1
    report = await monitor.get_performance_report(tenant_id="acme", time_window="1h")
    assert report.request_count == 4
    assert report.error_count == 1
    assert report.latency is not None
    assert report.latency.max == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("endpoint", "method"), [("workflows", "GET"), ("/x", "G E T"), ("/x", "")]
)
def test_track_api_metrics_validates_its_arguments(endpoint: str, method: str) -> None:
    with pytest.raises(ValueError, match=r"endpoint|method"):
        track_api_metrics(endpoint, method)
