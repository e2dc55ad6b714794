"""The rolling store and performance reports: windows, tenants, caps, exact percentiles."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.monitoring import (
    InvalidTimeWindowError,
    PerformanceMonitor,
    RelayPointMetrics,
    RollingStore,
    parse_time_window,
)
from relaypoint_core.monitoring.reports import nearest_rank_percentile
from relaypoint_core.testing import FakeClock


def brute_force_percentile(samples: list[float], percent: float) -> float:
    """Nearest rank, spelled out the slow way: the smallest x with at least p% of samples <= x."""
    n = len(samples)
    for candidate in sorted(samples):
        at_or_below = sum(1 for s in samples if s <= candidate)
        if at_or_below * 100 >= percent * n:
            return candidate
    raise AssertionError("unreachable")


latencies = st.floats(min_value=0.0, max_value=30.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(
        st.tuples(latencies, st.sampled_from(["acme", "globex", None]), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_report_percentiles_match_a_brute_force_computation(
    samples: list[tuple[float, str | None, bool]],
) -> None:
    clock = FakeClock()
    store = RollingStore(clock=clock)
    for latency, tenant, failed in samples:
        store.record_request("/items/{id}", latency, failed, tenant)
        clock.advance(0.5)

    for tenant in (None, "acme"):
        chosen = [s for s in samples if tenant is None or s[1] == tenant]
        report = store.report(tenant_id=tenant, time_window="1h")
        assert report.request_count == len(chosen)
        assert report.error_count == sum(1 for s in chosen if s[2])
        if not chosen:
            assert report.latency is None
            assert report.error_rate == 0.0
            continue
        values = [s[0] for s in chosen]
        assert report.latency is not None
        assert report.latency.p50 == brute_force_percentile(values, 50)
        assert report.latency.p95 == brute_force_percentile(values, 95)
        assert report.latency.p99 == brute_force_percentile(values, 99)
        assert report.latency.max == max(values)
        assert math.isclose(report.latency.mean, sum(values) / len(values), rel_tol=1e-9)
        assert math.isclose(report.error_rate, report.error_count / len(chosen))


def test_window_excludes_old_samples_and_other_tenants() -> None:
    clock = FakeClock()
    store = RollingStore(clock=clock)
    store.record_request("/old", 9.0, True, "acme")
    store.record_cache_access(False, "acme")
    clock.advance(2 * 3600)
    store.record_request("/a", 0.1, False, "acme")
    store.record_request("/b", 0.3, True, "acme")
    store.record_request("/b", 0.5, False, "globex")
    store.record_cache_access(True, "acme")
    store.record_cache_access(True, "acme")
    store.record_cache_access(False, "globex")
    store.record_workflow(1.0, True, "acme")
    store.record_workflow(1.0, False, "globex")

    report = store.report(tenant_id="acme", time_window="1h")
    assert report.request_count == 2
    assert report.error_count == 1
    assert report.error_rate == 0.5
    assert [r.route for r in report.slowest_routes] == ["/b", "/a"]
    assert report.cache_hits == 2
    assert report.cache_misses == 0
    assert report.cache_hit_rate == 1.0
    assert report.workflows_executed == 1
    assert report.workflows_failed == 0

    everyone = store.report(tenant_id=None, time_window="3h")
    assert everyone.request_count == 4
    assert everyone.cache_hit_rate == pytest.approx(2 / 4)
    assert everyone.workflows_failed == 1


def test_slowest_routes_are_ranked_by_p95_and_capped() -> None:
    store = RollingStore(clock=FakeClock())
    for index in range(8):
        for _ in range(3):
            store.record_request(f"/r{index}", index / 10, False)
    report = store.report(tenant_id=None, time_window="5m", slowest=3)
    assert [r.route for r in report.slowest_routes] == ["/r7", "/r6", "/r5"]
    assert report.slowest_routes[0].request_count == 3


def test_cap_bounds_memory_and_marks_report_incomplete() -> None:
    clock = FakeClock()
    store = RollingStore(clock=clock, max_samples=100)
    for _ in range(1_000):
        store.record_cache_access(True)
        store.record_request("/x", 0.01, False)
        clock.advance(0.001)
    assert len(store) == 200
    report = store.report(tenant_id=None, time_window="1h")
    assert report.request_count == 100
    assert report.complete is False
    assert report.notes


def test_retention_prunes_samples() -> None:
    clock = FakeClock()
    store = RollingStore(clock=clock, retention_seconds=60)
    store.record_request("/x", 0.01, False)
    clock.advance(61)
    store.record_request("/x", 0.01, False)
    report = store.report(tenant_id=None, time_window="30s")
    assert report.request_count == 1
    assert len(store) == 1


@pytest.mark.parametrize(
    ("window", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("7d", 604800),
        ("2w", 1209600),
        (" 1H ", 3600),
        (90, 90),
        (0.5, 0.5),
        (timedelta(minutes=2), 120),
    ],
)
def test_parse_time_window_accepts_durations(window: object, seconds: float) -> None:
    assert parse_time_window(window) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "window",
    [
        "",
        "1",
        "h",
        "1 hour",
        "-1h",
        "1.5h",
        "0s",
        "1y",
        0,
        -3,
        True,
        float("nan"),
        float("inf"),
        None,
        object(),
    ],
)
def test_parse_time_window_rejects_garbage_with_a_clear_error(window: object) -> None:
    with pytest.raises(InvalidTimeWindowError) as info:
        parse_time_window(window)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_nearest_rank_edges() -> None:
    assert nearest_rank_percentile([1.0], 99) == 1.0
    assert nearest_rank_percentile([1.0, 2.0], 50) == 1.0
    assert nearest_rank_percentile([1.0, 2.0], 51) == 2.0
    with pytest.raises(ValueError):
        nearest_rank_percentile([], 50)


async def test_monitor_report_api_and_cache_hook() -> None:
    from prometheus_client import CollectorRegistry

    clock = FakeClock()
    monitor = PerformanceMonitor(metrics=RelayPointMetrics(CollectorRegistry()), clock=clock)
    for hit in (True, True, True, False):
        monitor.record_cache_access(hit, tenant_id="acme")
    monitor.record_cache_access(False, tenant_id="globex")
    monitor.record_cache_access(True)
    report = await monitor.get_performance_report(tenant_id="acme", time_window="1h")
    assert report.cache_hit_rate == 0.75
    assert report.as_dict()["cache_hits"] == 3
    with pytest.raises(InvalidTimeWindowError, match="1h30m"):
        await monitor.get_performance_report(tenant_id="acme", time_window="an hour")
