"""Health checks: parallel, each under a timeout, folded into healthy/degraded/unhealthy."""

from __future__ import annotations

import asyncio
import threading

import pytest

from relaypoint_core.monitoring import (
    HealthCheckRegistrationError,
    HealthRegistry,
    HealthStatus,
)
from tests.core.monitoring.support import private_monitor

# Timeout of the checks that must not time out, and how long the blocking thread blocks at most.
BOUND = 5.0


async def test_hanging_check_times_out_and_degrades_without_delaying_the_others() -> None:
    monitor, registry = private_monitor()
    never = asyncio.Event()
    ran: list[str] = []
    # Each check finishes only once all three are running: checked one after another, the first
    # would wait for the others until its timeout and the system would report it unhealthy.
    together = asyncio.Barrier(3)

    async def hanging() -> bool:
        await never.wait()
        return True

    async def parallel(name: str) -> bool:
        await together.wait()
        ran.append(name)
        return True

    # The 0.2 s timeout is asyncio's own timer (the loop's clock), the behaviour under test.
    monitor.register_health_check("search-index", hanging, critical=False, timeout=0.2)
    for name in ("database", "redis", "queue"):
        monitor.register_health_check(name, lambda n=name: parallel(n), timeout=BOUND)

    health = await monitor.check_system_health()

    assert health.status is HealthStatus.DEGRADED
    assert health.http_status == 200
    assert health.checks["search-index"].status is HealthStatus.UNHEALTHY
    assert health.checks["search-index"].error == "timed out after 0.2s"
    assert {n: health.checks[n].status for n in ("database", "redis", "queue")} == dict.fromkeys(
        ("database", "redis", "queue"), HealthStatus.HEALTHY
    )
    assert sorted(ran) == ["database", "queue", "redis"]
    assert (
        registry.get_sample_value("relaypoint_health_check_status", {"check": "search-index"})
        == 0.0
    )
    assert registry.get_sample_value("relaypoint_health_check_status", {"check": "redis"}) == 1.0


async def test_hanging_critical_check_makes_the_system_unhealthy() -> None:
    monitor, _ = private_monitor()
    never = asyncio.Event()

    async def hanging() -> None:
        await never.wait()

    monitor.register_health_check("database", hanging, timeout=0.1)
    monitor.register_health_check("cache", lambda: True, critical=False)
    health = await monitor.check_system_health()
    assert health.status is HealthStatus.UNHEALTHY
    assert health.http_status == 503
    assert health.checks["cache"].status is HealthStatus.HEALTHY


async def test_blocking_sync_check_runs_in_a_thread_and_times_out() -> None:
    release = threading.Event()

    def blocking() -> bool:
        release.wait(BOUND)  # a driver call that blocks; bounded so the thread ends
        return True

    health_registry = HealthRegistry(default_timeout=0.2)
    health_registry.register("legacy-db", blocking, critical=False)
    health_registry.register("fast", lambda: True)
    try:
        # Answered while the thread still blocks (release is set only afterwards): the timeout,
        # not the driver call, ended the check.
        health = await health_registry.run()
        assert health.checks["legacy-db"].error == "timed out after 0.2s"
        assert health.status is HealthStatus.DEGRADED
        assert health.checks["fast"].status is HealthStatus.HEALTHY
    finally:
        release.set()


@pytest.mark.parametrize(
    ("result", "expected", "error"),
    [
        (True, HealthStatus.HEALTHY, None),
        (None, HealthStatus.HEALTHY, None),
        (False, HealthStatus.UNHEALTHY, "check returned False"),
        (HealthStatus.DEGRADED, HealthStatus.DEGRADED, None),
        ("degraded", HealthStatus.DEGRADED, None),
        (42, HealthStatus.UNHEALTHY, "check returned int, expected a bool"),
    ],
)
async def test_check_results_are_interpreted(
    result: object, expected: HealthStatus, error: str | None
) -> None:
    health_registry = HealthRegistry()
    health_registry.register("dep", lambda: result)
    health = await health_registry.run()
    assert health.checks["dep"].status is expected
    assert health.checks["dep"].error == error


async def test_mapping_results_carry_details_and_exceptions_become_errors() -> None:
    health_registry = HealthRegistry()

    async def with_details() -> dict[str, object]:
        return {"status": "degraded", "replication_lag_s": 12}

    def raising() -> bool:
        raise ConnectionError("connection refused")

    async def async_lambda_target() -> bool:
        return True

    health_registry.register("replica", with_details)
    health_registry.register("db", raising)
    health_registry.register("wrapped", lambda: async_lambda_target())  # sync lambda, async body
    health = await health_registry.run()
    assert health.checks["replica"].status is HealthStatus.DEGRADED
    assert health.checks["replica"].details == {"replication_lag_s": 12}
    assert health.checks["db"].error == "ConnectionError: connection refused"
    assert health.checks["wrapped"].status is HealthStatus.HEALTHY
    assert health.status is HealthStatus.UNHEALTHY
    body = health.as_dict()
    assert body["checks"]["replica"]["details"] == {"replication_lag_s": 12}
    assert body["status"] == "unhealthy"


async def test_liveness_and_readiness_run_separate_checks() -> None:
    monitor, _ = private_monitor()
    monitor.register_health_check("event-loop", lambda: True, liveness=True, readiness=False)
    monitor.register_health_check("database", lambda: False)
    monitor.register_health_check("both", lambda: True, liveness=True)
    live = await monitor.check_liveness()
    ready = await monitor.check_readiness()
    assert set(live.checks) == {"event-loop", "both"}
    assert live.status is HealthStatus.HEALTHY
    assert set(ready.checks) == {"database", "both"}
    assert ready.status is HealthStatus.UNHEALTHY
    monitor.unregister_health_check("database")
    assert (await monitor.check_readiness()).status is HealthStatus.HEALTHY


async def test_no_checks_is_healthy() -> None:
    health = await HealthRegistry().run("readiness")
    assert health.status is HealthStatus.HEALTHY
    assert health.checks == {}


@pytest.mark.parametrize(
    ("name", "check", "options"),
    [
        ("", lambda: True, ()),
        ("has space", lambda: True, ()),
        ("x" * 65, lambda: True, ()),
        ("db", "not callable", ()),
        ("db", lambda: True, (("timeout", 0),)),
        ("db", lambda: True, (("timeout", -1.0),)),
        ("db", lambda: True, (("liveness", False), ("readiness", False))),
    ],
)
def test_bad_registrations_are_refused(
    name: str, check: object, options: tuple[tuple[str, object], ...]
) -> None:
    # Options come as pairs, not a dict: parametrize values must be hashable in this suite.
    with pytest.raises(HealthCheckRegistrationError):
        HealthRegistry().register(name, check, **dict(options))  # type: ignore[arg-type]


def test_bad_default_timeout_is_refused() -> None:
    with pytest.raises(HealthCheckRegistrationError):
        HealthRegistry(default_timeout=0)


async def test_health_reports_uptime_from_the_injected_clock() -> None:
    from relaypoint_core.testing import FakeClock

    clock = FakeClock()
    health_registry = HealthRegistry(clock=clock)
    clock.advance(90)
    health = await health_registry.run()
    assert health.uptime_seconds == 90
    assert health.as_dict()["uptime_seconds"] == 90
