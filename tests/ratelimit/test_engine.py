"""Behaviour of the engine, the same on memory, one Redis server and a 3-node Redis Cluster."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_core.tenant_context import tenant_scope
from relaypoint_ratelimit import (
    DEFAULT_TIERS,
    Identity,
    MemoryBackend,
    RateLimiter,
    RateLimitExceeded,
    RoutePolicy,
    TierSet,
    UnknownTierError,
)
from relaypoint_ratelimit.backends import BackendRequest, BackendResult, RateLimitBackend
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.conftest import BackendTarget

# Long windows: these tests must not depend on time passing (Redis uses real server time).
TIERS = TierSet.from_mapping(
    {"BASIC": "3/hour; 5/day", "PLUS": "6/hour; 10/day", "TEAM": "8/hour", "MAX": "100/hour"}
)


class CountingBackend:
    """Wraps a backend and counts calls: round trips are what the memo and plans must save."""

    def __init__(self, inner: RateLimitBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.remote = inner.remote
        self.applies = 0

    async def startup(self) -> None:
        await self.inner.startup()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def apply(self, request: BackendRequest) -> BackendResult:
        self.applies += 1
        return await self.inner.apply(request)

    async def get_tier(self, tier_key: str) -> str | None:
        return await self.inner.get_tier(tier_key)

    async def set_tier(self, tier_key: str, tier: str | None) -> None:
        await self.inner.set_tier(tier_key, tier)

    async def delete(self, keys: Sequence[str]) -> None:
        await self.inner.delete(keys)


def make(target: BackendTarget, **options: object) -> RateLimiter:
    options.setdefault("tiers", TIERS)
    options.setdefault("default_tier", "BASIC")
    return RateLimiter(
        target.url,
        key_prefix=target.key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=5,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def limiter(backend_with_cluster: BackendTarget) -> AsyncIterator[RateLimiter]:
    lim = make(backend_with_cluster)
    await lim.startup()
    yield lim
    await lim.aclose()


def uid() -> str:
    return uuid.uuid4().hex[:10]


async def test_admits_exactly_the_smallest_limit_then_refuses(limiter: RateLimiter) -> None:
    who = Identity(uid(), tenant_id="acme")
    results = [await limiter.check(who) for _ in range(5)]
    assert [d.allowed for d in results] == [True, True, True, False, False]
    last_ok = results[2]
    assert [(p.name, p.used, p.remaining) for p in last_ok.policies] == [
        ("user.hour", 3, 0),
        ("user.day", 3, 2),
    ]
    refused = results[3]
    assert [p.name for p in refused.violated] == ["user.hour"]
    assert refused.retry_after is not None
    assert 0 < refused.retry_after <= 3600 * 1.05 + 1
    assert refused.status_code == 429


async def test_a_refused_request_consumes_nothing_anywhere(limiter: RateLimiter) -> None:
    tenant = f"t{uid()}"
    alice = Identity("alice", tenant_id=tenant, tenant_tier="TEAM")
    bob = Identity("bob", tenant_id=tenant, tenant_tier="TEAM")
    assert all([(await limiter.check(alice)).allowed for _ in range(3)])
    refused = await limiter.check(alice)
    assert not refused.allowed
    # Alice's refusal consumed nothing of the tenant budget (8/hour) nor of her day window.
    stats = await limiter.get_usage_stats(alice)
    assert {w.name: w.used for w in stats.windows} == {
        "user.hour": 3,
        "user.day": 3,
        "tenant.hour": 3,
    }
    for _ in range(3):
        assert (await limiter.check(bob)).allowed
    carol = Identity("carol", tenant_id=tenant, tenant_tier="TEAM")
    assert (await limiter.check(carol)).allowed
    assert (await limiter.check(carol)).allowed
    blocked_by_tenant = await limiter.check(carol)
    assert not blocked_by_tenant.allowed
    assert [p.name for p in blocked_by_tenant.violated] == ["tenant.hour"]
    stats = await limiter.get_usage_stats(carol)
    assert {w.name: w.used for w in stats.windows}["user.hour"] == 2


async def test_cost_weights_every_window_and_an_impossible_cost_is_refused(
    limiter: RateLimiter,
) -> None:
    who = Identity(uid())
    assert (await limiter.check(who, cost=2)).allowed
    refused = await limiter.check(who, cost=2)
    assert not refused.allowed
    assert (await limiter.check(who, cost=1)).allowed
    huge = await limiter.peek(Identity(uid()), cost=50)
    assert not huge.allowed
    assert huge.retry_after == 86_400  # never fits: retry after the longest violated window


async def test_peek_counts_nothing(limiter: RateLimiter) -> None:
    who = Identity(uid())
    for _ in range(4):
        assert (await limiter.peek(who)).allowed
    assert (await limiter.check(who)).policies[0].used == 1


async def test_route_policy_is_checked_in_the_same_call(limiter: RateLimiter) -> None:
    export = RoutePolicy("export", "2/hour")
    who = Identity(uid(), tenant_id="acme")
    first = await limiter.check(who, route=export)
    assert [p.name for p in first.policies] == ["user.hour", "user.day", "route.export.hour"]
    assert (await limiter.check(who, route=export)).allowed
    third = await limiter.check(who, route=export)
    assert [p.name for p in third.violated] == ["route.export.hour"]
    # The route refusal consumed nothing: the user still has one request of their own.
    assert (await limiter.check(who)).allowed


async def test_set_user_tier_is_stored_in_the_backend_and_seen_by_other_limiters(
    backend_with_cluster: BackendTarget,
) -> None:
    first, second = make(backend_with_cluster), make(backend_with_cluster)
    try:
        who = Identity(uid(), tenant_id="acme")
        assert (await second.check(who)).tier == "BASIC"
        await first.set_user_tier(who.user_key, "plus", tenant_id="acme")
        if backend_with_cluster.is_redis:
            # A different process (here: another limiter) learns it on its very next check.
            decision = await second.check(who)
            assert decision.tier == "PLUS"
            assert decision.policies[0].limit == 6
            assert await second.get_user_tier(who.user_key, tenant_id="acme") == "PLUS"
        with tenant_scope("acme"):
            assert await first.get_user_tier(who.user_key) == "PLUS"
        await first.set_user_tier(who.user_key, None, tenant_id="acme")
        assert await first.get_user_tier(who.user_key, tenant_id="acme") == "BASIC"
        with pytest.raises(UnknownTierError):
            await first.set_user_tier(who.user_key, "GOLD")
    finally:
        await first.aclose()
        await second.aclose()


async def test_limiters_sharing_a_memory_backend_see_each_others_tiers() -> None:
    # The memory backend answers a repeated request from remembered counters; a tier stored by
    # another limiter in between must still send that request back for its tier check.
    shared = MemoryBackend()
    first, second = (
        RateLimiter(
            shared, tiers=TIERS, default_tier="BASIC", metrics=RateLimitMetrics(CollectorRegistry())
        )
        for _ in range(2)
    )
    who = Identity(uid(), tenant_id="acme")
    assert [(await second.check(who)).tier for _ in range(2)] == ["BASIC", "BASIC"]
    await first.set_user_tier(who.user_key, "plus", tenant_id="acme")
    decision = await second.check(who)
    assert (decision.tier, decision.policies[0].limit, decision.policies[0].used) == ("PLUS", 6, 3)


async def test_usage_stats_and_reset(limiter: RateLimiter) -> None:
    who = Identity(uid(), tenant_id="acme")
    for _ in range(2):
        await limiter.check(who)
    stats = await limiter.get_usage_stats(who.user_key, tenant_id="acme")
    assert stats.tier == "BASIC"
    hour = stats.windows[0]
    assert (hour.name, hour.limit, hour.used, hour.remaining) == ("user.hour", 3, 2, 1)
    assert 0 < hour.reset_after <= 3600 * 1.05 + 1
    assert stats.as_dict()["windows"][0]["remaining"] == 1  # type: ignore[index]
    await limiter.reset(who)
    assert (await limiter.get_usage_stats(who.user_key, tenant_id="acme")).windows[0].used == 0


async def test_counting_after_a_reset_starts_from_zero(limiter: RateLimiter) -> None:
    # The memory backend remembers a request's counter objects between checks; a reset must
    # make it forget them, or the next checks would count into the dropped counters.
    who = Identity(uid(), tenant_id="acme")
    for _ in range(2):
        assert (await limiter.check(who)).allowed
    await limiter.reset(who)
    results = [await limiter.check(who) for _ in range(4)]
    assert [d.allowed for d in results] == [True, True, True, False]
    assert [p.used for p in results[2].policies] == [3, 3]
    assert (await limiter.get_usage_stats(who.user_key, tenant_id="acme")).windows[0].used == 3


async def test_enforce_raises_with_the_decision(limiter: RateLimiter) -> None:
    who = Identity(uid())
    for _ in range(3):
        await limiter.enforce(who)
    with pytest.raises(RateLimitExceeded) as caught:
        await limiter.enforce(who)
    assert caught.value.decision.violated[0].name == "user.hour"


async def test_a_refused_client_is_remembered_locally_without_round_trips(
    backend_with_cluster: BackendTarget,
) -> None:
    probe = make(backend_with_cluster)
    counting = CountingBackend(probe.backend)
    limiter = RateLimiter(
        counting,
        tiers=TIERS,
        default_tier="BASIC",
        key_prefix=backend_with_cluster.key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=5,
    )
    try:
        who = Identity(uid(), tenant_id="acme")
        for _ in range(4):
            await limiter.check(who)
        calls = counting.applies
        hammering = [await limiter.check(who) for _ in range(50)]
        assert not any(d.allowed for d in hammering)
        assert {d.source for d in hammering} == {"memo"}
        assert counting.applies == calls
        await limiter.reset(who)  # a reset forgets the memo
        assert (await limiter.check(who)).allowed
    finally:
        await limiter.aclose()


async def test_all_keys_of_a_request_share_one_cluster_slot(limiter: RateLimiter) -> None:
    redis_cluster = pytest.importorskip("redis.cluster")
    from relaypoint_ratelimit.backends.redis import script_call

    route = RoutePolicy("export", "2/hour", per="tenant")
    for who in (
        Identity("u:1{x}", tenant_id="acme", tenant_tier="TEAM"),
        Identity("10.0.0.1", anonymous=True),
        Identity("u2"),
    ):
        plan = limiter.planner.build(who, route, True, 1, limiter.keys.user_tier(who), "")
        keys = script_call(plan.consume)[0]
        slots = {redis_cluster.key_slot(k.encode()) for k in keys}
        assert len(slots) == 1, keys


async def test_concurrent_checks_never_overshoot(limiter: RateLimiter) -> None:
    who = Identity(uid(), tenant_id="acme")
    decisions = await asyncio.gather(*(limiter.check(who) for _ in range(20)))
    assert sum(d.allowed for d in decisions) == 3


def test_seed_tiers_are_exactly_the_documented_ones() -> None:
    table = {t.name: [(w.limit, w.seconds) for w in t.windows] for t in DEFAULT_TIERS}
    assert table == {
        "FREE": [(60, 60), (1_000, 3_600), (10_000, 86_400)],
        "STARTER": [(300, 60), (10_000, 3_600), (100_000, 86_400)],
        "PROFESSIONAL": [(1_000, 60), (50_000, 3_600), (500_000, 86_400)],
        "ENTERPRISE": [(5_000, 60), (200_000, 3_600), (2_000_000, 86_400)],
    }
    assert DEFAULT_TIERS.next_above("free").name == "STARTER"  # type: ignore[union-attr]
    assert DEFAULT_TIERS.next_above("ENTERPRISE") is None
