"""Shadow (dry-run) mode, per policy and global, on memory and real Redis: evaluated and counted,
never refused, a would_limit metric, one log line per state change, no headers for shadow
policies."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_ratelimit import Identity, RateLimiter, RoutePolicy, TierSet
from relaypoint_ratelimit.headers import rate_limit_headers
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.conftest import BackendTarget
from tests.ratelimit.sfv import parse_list

TIERS = TierSet.from_mapping({"BASIC": "3/minute; 100/hour"})


def would_limit(registry: CollectorRegistry, policy: str) -> float:
    value = registry.get_sample_value(
        "relaypoint_ratelimit_would_limit_total", {"policy": policy, "tier": "BASIC"}
    )
    return value or 0.0


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


async def shadow_limiter(
    target: BackendTarget, registry: CollectorRegistry, **options: object
) -> RateLimiter:
    limiter = RateLimiter(
        target.url,
        tiers=TIERS,
        default_tier="BASIC",
        key_prefix=target.key_prefix,
        metrics=RateLimitMetrics(registry),
        timeout=5,
        **options,  # type: ignore[arg-type]
    )
    await limiter.startup()
    return limiter


@pytest.fixture
async def per_policy(
    backend: BackendTarget, registry: CollectorRegistry
) -> AsyncIterator[RateLimiter]:
    limiter = await shadow_limiter(backend, registry, shadow=["user.minute"])
    yield limiter
    await limiter.aclose()


async def test_a_shadow_policy_never_refuses_but_counts_what_it_would_have(
    per_policy: RateLimiter, registry: CollectorRegistry
) -> None:
    who = Identity(uuid.uuid4().hex)
    decisions = [await per_policy.check(who) for _ in range(6)]
    assert all(d.allowed for d in decisions)
    minute = [next(p for p in d.policies if p.name == "user.minute") for d in decisions]
    assert [p.would_limit for p in minute] == [False] * 3 + [True] * 3
    # It stays where enforcing it would have left it; the enforced hour window counts them all.
    assert [p.used for p in minute] == [1, 2, 3, 3, 3, 3]
    hour = [next(p for p in d.policies if p.name == "user.hour") for d in decisions]
    assert hour[-1].used == 6
    assert would_limit(registry, "user.minute") == 3
    assert all(d.violated == () for d in decisions)


async def test_no_header_describes_a_shadow_policy(per_policy: RateLimiter) -> None:
    decision = await per_policy.check(Identity(uuid.uuid4().hex))
    headers = {k.decode(): v.decode() for k, v in rate_limit_headers(decision)}
    assert set(parse_list(headers["ratelimit-policy"])) == {"user.hour"}
    assert set(parse_list(headers["ratelimit"])) == {"user.hour"}
    assert headers["x-ratelimit-limit"] == "100"


async def test_one_log_line_per_state_change(
    per_policy: RateLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relaypoint.ratelimit.shadow")
    who = Identity(uuid.uuid4().hex)
    for _ in range(8):
        await per_policy.check(who)
    lines = [r.getMessage() for r in caplog.records if r.name == "relaypoint.ratelimit.shadow"]
    assert len(lines) == 1
    assert "user.minute would limit" in lines[0]
    await per_policy.reset(who)
    await per_policy.check(who)
    lines = [r.getMessage() for r in caplog.records if r.name == "relaypoint.ratelimit.shadow"]
    assert len(lines) == 2
    assert "admits" in lines[1]


async def test_global_shadow_mode_refuses_nothing_and_sends_no_headers(
    backend: BackendTarget, registry: CollectorRegistry
) -> None:
    limiter = await shadow_limiter(backend, registry, shadow=True)
    try:
        who = Identity(uuid.uuid4().hex)
        decisions = [await limiter.check(who) for _ in range(5)]
    finally:
        await limiter.aclose()
    assert all(d.allowed for d in decisions)
    assert decisions[-1].would_limit
    assert all(rate_limit_headers(d) == [] for d in decisions)
    assert would_limit(registry, "user.minute") == 2


async def test_a_shadow_route_policy_is_evaluated_in_the_same_call(
    backend: BackendTarget, registry: CollectorRegistry
) -> None:
    limiter = await shadow_limiter(backend, registry)
    route = RoutePolicy("export", "1/minute", shadow=True)
    try:
        who = Identity(uuid.uuid4().hex)
        decisions = [await limiter.check(who, route=route) for _ in range(4)]
    finally:
        await limiter.aclose()
    assert [d.allowed for d in decisions] == [True, True, True, False]  # the tier still limits
    assert [bool(d.would_limit) for d in decisions[:3]] == [False, True, True]
    assert [p.name for p in decisions[-1].violated] == ["user.minute"]
