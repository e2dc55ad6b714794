"""Shared fixtures: real Redis/PostgreSQL, per-test key prefixes, backend parametrization.

Service tests are marked automatically (``redis``/``postgres``) from the fixtures they use. On a
laptop without the servers they skip with a loud reason; under ``CI=true`` any skipped service test
is turned into a failure here, and the run ends with a count of service tests that really ran.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from relaypoint_core.testing import FakeClock
from tests.support.services import (
    POSTGRES_URL,
    REDIS_URL,
    RedisCluster,
    RedisServer,
    delete_redis_prefix,
    postgres_unavailable_reason,
    redis_unavailable_reason,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SERVICE_MARKERS = ("redis", "postgres")
_REDIS_FIXTURES = {
    "redis_url",
    "redis_server",
    "redis_cluster",
    "redis_backend",
    "key_prefix_redis",
}
_POSTGRES_FIXTURES = {"postgres_url"}

_service_outcomes: Counter[tuple[str, str]] = Counter()
_availability: dict[str, str | None] = {}


def _service_unavailable(name: str) -> str | None:
    if name not in _availability:
        probe = redis_unavailable_reason if name == "redis" else postgres_unavailable_reason
        _availability[name] = probe()
    return _availability[name]


def require_service(name: str) -> None:
    """Skip (laptop) or fail (CI) the current test when ``name`` is not reachable."""
    reason = _service_unavailable(name)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true requires {name}: {reason}", pytrace=False)
    pytest.skip(f"SERVICE TEST SKIPPED - {reason}; start {name} to run it")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        # Parameter values may be unhashable (lists, dicts): compare their text only.
        params = {str(p) for p in callspec.params.values()} if callspec is not None else set()
        if names & _REDIS_FIXTURES or "redis" in params:
            item.add_marker(pytest.mark.redis)
        if names & _POSTGRES_FIXTURES or "postgres" in params:
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    markers = [m for m in SERVICE_MARKERS if item.get_closest_marker(m) is not None]
    if not markers:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        for marker in markers:
            _service_outcomes[(marker, report.outcome)] += 1
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"service test skipped under CI=true ({', '.join(markers)}): {report.longrepr}"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.section("relaypoint service tests")
    for marker in SERVICE_MARKERS:
        passed = _service_outcomes[(marker, "passed")]
        failed = _service_outcomes[(marker, "failed")]
        skipped = _service_outcomes[(marker, "skipped")]
        terminalreporter.write_line(
            f"{marker}: {passed} passed, {failed} failed, {skipped} skipped"
            + (" (CI=true: skips are failures)" if IN_CI else "")
        )


# --- clocks -------------------------------------------------------------------------------------


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture
def key_prefix() -> str:
    """A key prefix unique to this test, so tests on the shared Redis never collide."""
    return f"rpt{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_url(key_prefix: str) -> AsyncIterator[str]:
    """URL of the shared loopback Redis; after the test, every key under ``key_prefix`` is removed."""
    require_service("redis")
    yield REDIS_URL
    delete_redis_prefix(REDIS_URL, key_prefix)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server this test may kill and restart (fault tests)."""
    require_service("redis")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-node Redis Cluster started from redis-server on free loopback ports for this session."""
    require_service("redis")
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


@dataclass(frozen=True)
class BackendTarget:
    """Where a backend-parametrized test stores its data."""

    name: str
    url: str
    key_prefix: str

    @property
    def is_redis(self) -> bool:
        return self.name != "memory"


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis)],
)
def backend(request: pytest.FixtureRequest, key_prefix: str) -> BackendTarget:
    """Runs a test once on the memory backend and once on real Redis (same behaviour expected)."""
    if request.param == "memory":
        return BackendTarget("memory", "memory://", key_prefix)
    url: str = request.getfixturevalue("redis_url")
    return BackendTarget("redis", url, key_prefix)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis_cluster", marks=pytest.mark.redis),
    ],
)
def backend_with_cluster(request: pytest.FixtureRequest, key_prefix: str) -> BackendTarget:
    """Like ``backend``, plus a run on the session's local 3-node Redis Cluster."""
    if request.param == "memory":
        return BackendTarget("memory", "memory://", key_prefix)
    if request.param == "redis":
        return BackendTarget("redis", request.getfixturevalue("redis_url"), key_prefix)
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return BackendTarget("redis_cluster", cluster.url, key_prefix)


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the loopback PostgreSQL (``postgresql://``; add a driver such as ``+asyncpg``)."""
    require_service("postgres")
    return POSTGRES_URL
