"""A Redis the test started is killed mid-load and restarted: every request gets an answer under
each fault policy as documented, none waits past the timeout, and limiting resumes."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_core.circuit import CircuitState
from relaypoint_ratelimit import Decision, Identity, RateLimiter, TierSet
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.support.services import RedisServer

TIMEOUT = 0.1
# Generous: the bound is the timeout plus scheduling noise on a loaded 2-core machine.
ANSWER_BOUND = TIMEOUT + 1.0
TIERS = TierSet.from_mapping({"FREE": "5/minute"})


async def timed_check(limiter: RateLimiter, who: Identity) -> tuple[Decision, float]:
    started = time.perf_counter()
    decision = await limiter.check(who)
    return decision, time.perf_counter() - started


@pytest.mark.parametrize("policy", ["open", "closed", "local"])
async def test_kill_and_restart_redis_under_load(
    redis_server: RedisServer, key_prefix: str, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    limiter = RateLimiter(
        redis_server.url,
        tiers=TIERS,
        fault_policy=policy,
        timeout=TIMEOUT,
        circuit_failure_threshold=2,
        circuit_reset_timeout=0.3,
        key_prefix=key_prefix,
        metrics=RateLimitMetrics(registry),
        memo_refusals=False,
    )
    await limiter.startup()
    caplog.set_level(logging.WARNING, logger="relaypoint.circuit")
    try:
        healthy = [await limiter.check(Identity("before")) for _ in range(6)]
        assert [d.allowed for d in healthy] == [True] * 5 + [False]
        assert {d.source for d in healthy} == {"backend"}

        redis_server.kill()
        outage: list[tuple[Decision, float]] = []
        for i in range(40):
            outage.append(await timed_check(limiter, Identity(f"during-{i % 2}")))
        slowest = max(elapsed for _, elapsed in outage)
        assert slowest < ANSWER_BOUND, f"a check waited {slowest:.3f}s during the outage"
        assert limiter.circuit.state is not CircuitState.CLOSED
        decisions = [d for d, _ in outage]
        if policy == "open":
            assert all(d.allowed and d.source == "fail_open" for d in decisions)
        elif policy == "closed":
            assert all(not d.allowed and d.status_code == 503 for d in decisions)
            assert all(d.retry_after is not None and d.retry_after >= 1 for d in decisions)
        else:
            assert {d.source for d in decisions} == {"fallback"}
            # The local limiter still limits: each of the two clients gets its 5, no more.
            assert sum(d.allowed for d in decisions) == 10

        redis_server.start()
        deadline = time.monotonic() + 15
        recovered: Decision | None = None
        while time.monotonic() < deadline:
            decision, elapsed = await timed_check(limiter, Identity("after"))
            assert elapsed < ANSWER_BOUND
            if decision.source == "backend":
                recovered = decision
                break
            await asyncio.sleep(0.05)
        assert recovered is not None, "limiting did not resume after Redis came back"
        assert limiter.circuit.state is CircuitState.CLOSED
        resumed = [recovered] + [await limiter.check(Identity("after")) for _ in range(5)]
        assert [d.allowed for d in resumed] == [True] * 5 + [False]
        assert {d.source for d in resumed} == {"backend"}
    finally:
        await limiter.aclose()

    # One log line per state change, not one per failed request.
    opened = [r for r in caplog.records if "circuit open" in r.getMessage()]
    closed = [r for r in caplog.records if "circuit closed" in r.getMessage()]
    assert 1 <= len(opened) < 40
    assert len(closed) == 1
    errors = (
        registry.get_sample_value(
            "relaypoint_ratelimit_backend_errors_total", {"backend": "redis", "kind": "unavailable"}
        )
        or 0.0
    )
    timeouts = (
        registry.get_sample_value(
            "relaypoint_ratelimit_backend_errors_total", {"backend": "redis", "kind": "timeout"}
        )
        or 0.0
    )
    assert errors + timeouts >= 2
    assert (
        registry.get_sample_value("relaypoint_ratelimit_circuit_state", {"backend": "redis"}) == 0
    )
    assert registry.get_sample_value(
        "relaypoint_ratelimit_circuit_transitions_total", {"backend": "redis", "state": "open"}
    ) == len(opened)


async def test_a_slow_redis_hits_the_timeout_not_the_client(
    redis_server: RedisServer, key_prefix: str
) -> None:
    """A Redis that stops answering (CLIENT PAUSE) costs each check at most the timeout."""
    import redis.asyncio as redis_asyncio

    limiter = RateLimiter(
        redis_server.url,
        tiers=TIERS,
        timeout=TIMEOUT,
        key_prefix=key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
    )
    admin = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        assert (await limiter.check(Identity("x"))).source == "backend"
        await admin.execute_command("CLIENT", "PAUSE", "800", "ALL")
        decision, elapsed = await timed_check(limiter, Identity("x"))
        assert decision.source == "fail_open"
        assert decision.allowed
        assert elapsed < ANSWER_BOUND
    finally:
        await admin.aclose()
        await limiter.aclose()


async def test_lost_scripts_and_dropped_idle_connections_cost_no_decision(
    redis_server: RedisServer, key_prefix: str
) -> None:
    """SCRIPT FLUSH (a restart or failover loses the script cache) and a server closing the
    limiter's idle connections are recovered inside the call: still answered by Redis."""
    import redis.asyncio as redis_asyncio

    limiter = RateLimiter(
        redis_server.url,
        tiers=TIERS,
        timeout=5,
        key_prefix=key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
    )
    admin = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        first = await limiter.check(Identity("y"))  # no startup(): loads the script on NOSCRIPT
        assert first.source == "backend"
        await admin.script_flush()
        after_flush = await limiter.check(Identity("y"))
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        after_kill = await limiter.check(Identity("y"))
        assert [(d.source, d.allowed) for d in (after_flush, after_kill)] == [
            ("backend", True),
            ("backend", True),
        ]
        assert [p.used for p in after_kill.policies] == [3]
    finally:
        await admin.aclose()
        await limiter.aclose()
