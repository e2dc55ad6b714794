"""Reserve-then-settle against the brute-force oracle: the estimate is decided like a check, a
refund lowers the reservation's own bucket, an extra charge never pushes any window past its
limit (memory with a fake clock, and real Redis with server time)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import (
    EnterpriseRateLimiter,
    Identity,
    RateLimiter,
    RoutePolicy,
    TierSet,
    Window,
    report_cost,
)
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.conftest import BackendTarget
from tests.ratelimit.oracle import Oracle
from tests.ratelimit.sfv import parse_list
from tests.ratelimit.test_middleware import FakeAuth, client
from tests.ratelimit.test_oracle import check_against_oracle, counter_names, tiers_for, window_sets

steps = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(1, 2_000), st.integers(2_000, 40_000)),  # before
        st.integers(1, 4),  # estimate
        st.integers(0, 8),  # actual
        st.integers(0, 3_000),  # work time
        st.sampled_from(["alice", "bob"]),
    ),
    min_size=1,
    max_size=40,
)


async def _run_steps(
    limiter: RateLimiter,
    oracle: Oracle,
    windows: dict[str, Window],
    tenant: str,
    plan: list[tuple[int, int, int, int, str]],
    advance: object,
) -> None:
    for before_ms, estimate, actual, work_ms, user in plan:
        await advance(before_ms)  # type: ignore[operator]
        identity = Identity(user, tenant_id=tenant)
        reservation = await limiter.reserve(identity, estimate)
        decision = reservation.decision
        check_against_oracle(oracle, identity, decision, estimate, windows)
        if not reservation.allowed:
            continue
        await advance(work_ms)  # type: ignore[operator]
        settlement = await limiter.settle(reservation, actual)
        names = counter_names(identity, decision)
        if actual < estimate:
            assert settlement.refunded == estimate - actual
        if actual > estimate:
            assert settlement.charged + settlement.unpaid == actual - estimate
            charged_to = [oracle.counters[n] for n in names]
            room = min(c.window.limit - c.live_used(settlement.clock_us) for c in charged_to)
            assert settlement.charged == max(0, min(actual - estimate, room))
        for name in names:
            log = oracle.counters[name]
            index = log.admitted.index((decision.clock_us, estimate))
            low = (settlement.clock_us - log.window.window_us) // log.window.bucket_us
            if actual < estimate and decision.clock_us // log.window.bucket_us < low:
                continue  # the reservation's bucket had left the window: nothing to refund
            log.admitted[index] = (decision.clock_us, min(estimate, actual))
            if settlement.charged:
                log.admitted.append((settlement.clock_us, settlement.charged))


@settings(max_examples=150, deadline=None)
@given(
    user_windows=window_sets(1_000, 30_000, 10),
    tenant_windows=st.none() | window_sets(1_000, 30_000, 14),
    plan=steps,
)
def test_memory_settle_never_overshoots_and_matches_the_model(
    user_windows: list[Window],
    tenant_windows: list[Window] | None,
    plan: list[tuple[int, int, int, int, str]],
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

    async def advance(ms: int) -> None:
        clock.advance(ms / 1000)

    asyncio.run(_run_steps(limiter, oracle, windows, "acme", plan, advance))
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user_windows=window_sets(20, 150, 8),
    plan=st.lists(
        st.tuples(
            st.sampled_from([0, 0, 2, 10]),
            st.integers(1, 4),
            st.integers(0, 8),
            st.sampled_from([0, 1, 5]),
            st.sampled_from(["a", "b"]),
        ),
        min_size=3,
        max_size=20,
    ),
)
def test_redis_settle_never_overshoots_and_matches_the_model(
    redis_url: str,
    key_prefix: str,
    user_windows: list[Window],
    plan: list[tuple[int, int, int, int, str]],
) -> None:
    windows = {f"user.{w.name}": w for w in user_windows}
    oracle = Oracle()

    async def advance(ms: int) -> None:
        if ms:
            await asyncio.sleep(ms / 1000)  # real Redis decides by its own clock

    async def run() -> None:
        limiter = RateLimiter(
            redis_url,
            tiers=tiers_for(user_windows, None),
            default_tier="U",
            key_prefix=key_prefix,
            metrics=RateLimitMetrics(CollectorRegistry()),
            memo_refusals=False,
            timeout=5,
        )
        try:
            await _run_steps(limiter, oracle, windows, f"t-{uuid.uuid4().hex[:8]}", plan, advance)
        finally:
            await limiter.aclose()

    asyncio.run(run())
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()


async def test_refund_makes_room_and_extra_beyond_room_is_unpaid(
    backend_with_cluster: BackendTarget,
) -> None:
    registry = CollectorRegistry()
    limiter = RateLimiter(
        backend_with_cluster.url,
        tiers=TierSet.from_mapping({"LLM": "100/minute"}),
        default_tier="LLM",
        key_prefix=backend_with_cluster.key_prefix,
        metrics=RateLimitMetrics(registry),
        timeout=5,
    )
    who = Identity(uuid.uuid4().hex)
    try:
        big = await limiter.reserve(who, 80)
        assert big.allowed
        assert not (await limiter.reserve(who, 30)).allowed
        refunded = await limiter.settle(big, 50)
        assert refunded.refunded == 30
        second = await limiter.reserve(who, 30)
        assert second.allowed  # the refund made the room
        over = await limiter.settle(second, 60)  # 20 more would fit, 10 would overshoot
        assert (over.charged, over.unpaid) == (20, 10)
        stats = await limiter.get_usage_stats(who)
        assert stats.windows[0].used == 100
        unpaid = registry.get_sample_value(
            "relaypoint_ratelimit_unpaid_cost_total", {"tier": "LLM"}
        )
        assert unpaid == 10
    finally:
        await limiter.aclose()


async def test_settle_rejects_a_negative_cost() -> None:
    limiter = RateLimiter(metrics=RateLimitMetrics(CollectorRegistry()))
    reservation = await limiter.reserve(Identity("x"), 2)
    with pytest.raises(ValueError, match="non-negative"):
        await limiter.settle(reservation, -1)


async def test_the_middleware_reserves_the_estimate_and_settles_the_reported_cost() -> None:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/complete")
    async def complete(request: Request) -> dict[str, int]:
        report_cost(request.scope, 3)  # e.g. the tokens the model really produced
        seen.append(3)
        return {"tokens": 3}

    tokens = RoutePolicy("tokens", "100/minute", path_prefixes=["/complete"], cost=10, settle=True)
    limited = EnterpriseRateLimiter(
        app,
        tiers=TierSet.from_mapping({"FREE": "1000/minute"}),
        route_policies=[tokens],
        metrics=RateLimitMetrics(CollectorRegistry()),
        clock=FakeClock(),
    )
    async with client(FakeAuth(limited)) as http:
        first = await http.post("/complete", headers={"x-user": "llm"})
        second = await http.post("/complete", headers={"x-user": "llm"})
    assert seen == [3, 3]
    # Headers go out before the handler's cost is known: they show the reservation (10 units).
    assert parse_list(first.headers["ratelimit"])["route.tokens.minute"]["r"] == 90
    # The first request settled at 3, so the second starts from 97 and reserves 10.
    assert parse_list(second.headers["ratelimit"])["route.tokens.minute"]["r"] == 87
