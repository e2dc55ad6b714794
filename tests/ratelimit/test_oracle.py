"""Property tests against a brute-force oracle: no interval of any window's length ever admits
more than its limit, refusals are justified by the documented bound, and every decision is
exactly the bucketed sliding window's (memory with a fake clock, and real Redis server time)."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import Decision, Identity, RateLimiter, Tier, TierSet, Window
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.oracle import Oracle


def window_sets(min_ms: int, max_ms: int, max_limit: int) -> st.SearchStrategy[list[Window]]:
    raw = st.lists(
        st.tuples(st.integers(1, max_limit), st.integers(min_ms, max_ms), st.integers(1, 5)),
        min_size=1,
        max_size=3,
        unique_by=lambda w: (w[1], -(-w[1] * 1000 // w[2])),
    )
    return raw.map(
        lambda items: [
            Window(limit, ms / 1000, name=f"w{i}", buckets=buckets)
            for i, (limit, ms, buckets) in enumerate(items)
        ]
    )


def tiers_for(user: list[Window], tenant: list[Window] | None) -> TierSet:
    tiers = [Tier("U", user)]
    if tenant is not None:
        tiers.append(Tier("T", tenant))
    return TierSet(tiers)


def counter_names(identity: Identity, decision: Decision) -> list[str]:
    return [
        f"tenant/{p.name}" if p.scope == "tenant" else f"{identity.user_key}/{p.name}"
        for p in decision.policies
    ]


def check_against_oracle(
    oracle: Oracle,
    identity: Identity,
    decision: Decision,
    cost: int,
    windows: dict[str, Window],
) -> None:
    names = counter_names(identity, decision)
    for name, policy in zip(names, decision.policies, strict=True):
        oracle.counter(name, windows[policy.name])
    now = decision.clock_us
    expected = oracle.expect(names, now, cost)
    assert decision.allowed == expected, (now, cost, names, decision)
    if decision.allowed:
        for name, policy in zip(names, decision.policies, strict=True):
            assert policy.used == oracle.counters[name].live_used(now) + cost
    else:
        for name, policy in zip(names, decision.policies, strict=True):
            assert policy.used == oracle.counters[name].live_used(now)
        assert decision.violated
        assert decision.retry_after is not None
        assert decision.retry_after > 0
        oracle.assert_retry_precise(names, now, cost, decision.retry_after)
    oracle.record(names, now, cost, decision.allowed)


events = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(1, 2_000), st.integers(2_000, 40_000)),
        st.integers(1, 3),
        st.sampled_from(["alice", "bob"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    user_windows=window_sets(1_000, 30_000, 8),
    tenant_windows=st.none() | window_sets(1_000, 30_000, 12),
    steps=events,
)
def test_memory_never_overshoots_and_matches_the_model(
    user_windows: list[Window],
    tenant_windows: list[Window] | None,
    steps: list[tuple[int, int, str]],
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        MemoryBackend(clock=clock),
        tiers=tiers_for(user_windows, tenant_windows),
        default_tier="U",
        default_tenant_tier="T" if tenant_windows is not None else None,
        clock=clock,
        metrics=RateLimitMetrics(CollectorRegistry()),
        memo_refusals=False,
    )
    windows = {f"user.{w.name}": w for w in user_windows}
    windows.update({f"tenant.{w.name}": w for w in tenant_windows or ()})
    oracle = Oracle()

    async def run() -> None:
        for advance_ms, cost, user in steps:
            clock.advance(advance_ms / 1000)
            identity = Identity(user, tenant_id="acme")
            decision = await limiter.check(identity, cost=cost)
            check_against_oracle(oracle, identity, decision, cost, windows)

    asyncio.run(run())
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 5),
    buckets=st.integers(1, 4),
    steps=st.lists(st.integers(0, 3_000), max_size=40),
)
def test_memory_with_refusal_memo_never_overshoots(
    limit: int, buckets: int, steps: list[int]
) -> None:
    clock = FakeClock()
    window = Window(limit, 2, name="w", buckets=buckets)
    limiter = RateLimiter(
        MemoryBackend(clock=clock),
        tiers=TierSet([Tier("U", [window])]),
        default_tier="U",
        clock=clock,
        metrics=RateLimitMetrics(CollectorRegistry()),
    )
    oracle = Oracle()
    log = oracle.counter("u/user.w", window)

    async def run() -> None:
        for advance_ms in steps:
            clock.advance(advance_ms / 1000)
            decision = await limiter.check(Identity("u"))
            oracle.record(["u/user.w"], int(clock.monotonic() * 1_000_000), 1, decision.allowed)

    asyncio.run(run())
    assert log.worst_interval() <= limit
    oracle.assert_refusals_justified()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user_windows=window_sets(15, 120, 6),
    tenant_windows=st.none() | window_sets(15, 120, 8),
    steps=st.lists(
        st.tuples(
            st.sampled_from([0, 0, 1, 3, 8, 20]), st.integers(1, 3), st.sampled_from(["a", "b"])
        ),
        min_size=5,
        max_size=30,
    ),
)
def test_redis_never_overshoots_and_matches_the_model(
    redis_url: str,
    key_prefix: str,
    user_windows: list[Window],
    tenant_windows: list[Window] | None,
    steps: list[tuple[int, int, str]],
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    windows = {f"user.{w.name}": w for w in user_windows}
    windows.update({f"tenant.{w.name}": w for w in tenant_windows or ()})
    oracle = Oracle()

    async def run() -> None:
        limiter = RateLimiter(
            redis_url,
            tiers=tiers_for(user_windows, tenant_windows),
            default_tier="U",
            default_tenant_tier="T" if tenant_windows is not None else None,
            key_prefix=key_prefix,
            metrics=RateLimitMetrics(CollectorRegistry()),
            memo_refusals=False,
            timeout=5,
        )
        try:
            for sleep_ms, cost, user in steps:
                if sleep_ms:
                    await asyncio.sleep(sleep_ms / 1000)
                identity = Identity(user, tenant_id=tenant)
                decision = await limiter.check(identity, cost=cost)
                assert decision.source == "backend"
                check_against_oracle(oracle, identity, decision, cost, windows)
        finally:
            await limiter.aclose()

    asyncio.run(run())
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()
