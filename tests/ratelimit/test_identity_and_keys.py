"""Identity resolution (principal, tenant, client address, trusted proxies) and key isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relaypoint_core.plan_tiers import StaticPlanTiers
from relaypoint_core.request_state import (
    Principal,
    ResolvedTenant,
    set_scope_principal,
    set_scope_tenant,
)
from relaypoint_core.tenant_context import tenant_scope
from relaypoint_core.tenant_ids import TenantSlug
from relaypoint_ratelimit import (
    DEFAULT_TIERS,
    Identity,
    RateLimitConfigurationError,
    RoutePolicy,
    ScopeIdentityResolver,
    TierSet,
    VerifiedIdentityResolver,
    Window,
    parse_windows,
)
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.testing import DecisionRecorder, FakeClock, memory_limiter


def http_scope(peer: str = "203.0.113.9", forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "path": "/", "headers": headers, "client": (peer, 1234)}


def test_principal_and_resolved_tenant_win() -> None:
    scope = http_scope()
    set_scope_principal(scope, Principal("42", "acme", claims={"tier": "STARTER"}))
    set_scope_tenant(scope, ResolvedTenant("acme", plan_tier="PROFESSIONAL"))
    assert ScopeIdentityResolver()(scope) == Identity(
        "42", tenant_id="acme", tenant_tier="PROFESSIONAL", user_tier="STARTER"
    )


def test_anonymous_traffic_is_charged_to_the_peer_never_to_a_tenant_it_names() -> None:
    scope = http_scope()
    set_scope_tenant(scope, ResolvedTenant("globex", plan_tier="FREE"))
    with tenant_scope("globex"):
        identity = ScopeIdentityResolver()(scope)
    assert identity == Identity("203.0.113.9", anonymous=True)


async def test_verified_resolver_takes_the_tier_from_the_tenants_plan() -> None:
    plans = StaticPlanTiers({"acme": "PROFESSIONAL"})
    resolver = VerifiedIdentityResolver(plan_tiers=plans)
    scope = http_scope()
    set_scope_principal(scope, Principal("42", "acme"))
    assert await resolver(scope) == Identity("42", "acme", "PROFESSIONAL", "PROFESSIONAL")
    anonymous = http_scope(peer="127.0.0.3")
    set_scope_tenant(anonymous, ResolvedTenant("acme", plan_tier="PROFESSIONAL"))
    assert await resolver(anonymous) == Identity("127.0.0.3", anonymous=True)


class ChangingPlans:
    """A plan-tier source whose tenants change plans between requests."""

    def __init__(self) -> None:
        self.tiers: dict[str, str] = {}

    async def plan_tier(self, tenant: TenantSlug) -> str | None:
        return self.tiers.get(tenant)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2", "3"]),
            st.sampled_from(["acme", "globex", None]),
            st.sampled_from(["FREE", "PROFESSIONAL", None]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_verified_resolver_follows_plan_changes_through_its_identity_cache(
    requests: list[tuple[str, str | None, str | None]],
) -> None:
    """Reused identities are always the ones a fresh resolution would build: the user's tenant
    at that tenant's plan tier as it is now."""
    asyncio.run(_resolve_all(requests))


async def _resolve_all(requests: list[tuple[str, str | None, str | None]]) -> None:
    plans = ChangingPlans()
    resolver = VerifiedIdentityResolver(plan_tiers=plans)
    for user, tenant, tier in requests:
        if tenant is not None:
            if tier is None:
                plans.tiers.pop(tenant, None)
            else:
                plans.tiers[tenant] = tier
        scope = http_scope()
        set_scope_principal(scope, Principal(user, TenantSlug(tenant) if tenant else None))
        now = plans.tiers.get(tenant) if tenant else None
        assert await resolver(scope) == Identity(user, tenant, now, now)


async def test_a_stored_user_tier_still_wins_over_the_plan() -> None:
    limiter = memory_limiter()
    await limiter.set_user_tier("42", "ENTERPRISE", tenant_id="acme")
    identity = await VerifiedIdentityResolver(plan_tiers=StaticPlanTiers({"acme": "FREE"}))(
        _principal_scope("42", "acme")
    )
    decision = await limiter.check(identity)
    assert decision.tier == "ENTERPRISE"


def _principal_scope(user: str, tenant: str) -> dict[str, Any]:
    scope = http_scope()
    set_scope_principal(scope, Principal(user, tenant))
    return scope


def test_x_forwarded_for_only_from_trusted_proxies() -> None:
    spoofed = http_scope(peer="203.0.113.9", forwarded="1.1.1.1")
    assert ScopeIdentityResolver(trusted_proxies=["10.0.0.0/8"])(spoofed).user_key == "203.0.113.9"
    via_proxy = http_scope(peer="10.0.0.5", forwarded="198.51.100.7, 10.0.0.9")
    resolver = ScopeIdentityResolver(trusted_proxies=["10.0.0.0/8"])
    assert resolver(via_proxy).user_key == "198.51.100.7"
    # Without trusted proxies the header is ignored entirely.
    assert ScopeIdentityResolver()(via_proxy).user_key == "10.0.0.5"
    with pytest.raises(RateLimitConfigurationError):
        ScopeIdentityResolver(trusted_proxies=["not-an-ip"])


identities = st.builds(
    Identity,
    user_key=st.text(min_size=1, max_size=12),
    tenant_id=st.none() | st.text(min_size=1, max_size=8),
    anonymous=st.booleans(),
)


@given(a=identities, b=identities)
def test_no_two_subjects_share_a_key(a: Identity, b: Identity) -> None:
    keys = RateLimitKeys("rp:")
    window = Window(10, 60)
    same_user = (a.user_key, a.tenant_id, a.anonymous) == (b.user_key, b.tenant_id, b.anonymous)
    assert (keys.user_window(a, window) == keys.user_window(b, window)) == same_user
    assert (keys.tenant_window(a, window) == keys.user_window(b, window)) is False
    same_tenant_scope = a.tenant_id == b.tenant_id and (
        a.tenant_id is not None or (a.user_key, a.anonymous) == (b.user_key, b.anonymous)
    )
    assert (keys.tenant_window(a, window) == keys.tenant_window(b, window)) == same_tenant_scope
    assert keys.user_tier(a) != keys.user_window(b, window)


def test_policy_parsing_and_validation() -> None:
    assert [(w.limit, w.seconds, w.name) for w in parse_windows("10/30s; 5 per minute")] == [
        (10, 30, "30s"),
        (5, 60, "minute"),
    ]
    for bad in ("ten/minute", "10/fortnight", "0/minute", ""):
        with pytest.raises(RateLimitConfigurationError):
            parse_windows(bad)
    with pytest.raises(RateLimitConfigurationError):
        Window(10, 60, buckets=-1)
    with pytest.raises(RateLimitConfigurationError):
        parse_windows("1/minute; 2/minute")
    with pytest.raises(RateLimitConfigurationError):
        TierSet.from_mapping({"a": "1/minute", "A": "2/minute"})
    with pytest.raises(RateLimitConfigurationError):
        RoutePolicy("bad name!", "1/minute")


async def test_memory_per_key_does_not_grow_with_the_limit() -> None:
    clock = FakeClock()
    tiers = TierSet.from_mapping({"HUGE": "2000000/day"})
    limiter = memory_limiter(clock=clock, tiers=tiers, default_tier="HUGE")
    who = Identity("busy")
    for _ in range(5_000):
        await limiter.check(who)
        clock.advance(86_400 / 1_000)
    key = limiter.keys.user_window(who, tiers.get("HUGE").windows[0])
    backend = limiter.backend
    window = tiers.get("HUGE").windows[0]
    assert backend.bucket_count(key) <= window.buckets + 1  # type: ignore[attr-defined]


async def test_idle_counters_are_swept_from_memory() -> None:
    clock = FakeClock()
    limiter = memory_limiter(
        clock=clock, tiers=TierSet.from_mapping({"T": "5/second"}), default_tier="T"
    )
    for i in range(3_000):
        await limiter.check(Identity(f"user-{i}"))
        clock.advance(0.01)
    # Live counters (about 105) plus at most one sweep interval (1024 writes) of expired ones.
    assert len(limiter.backend) < 1_200  # type: ignore[arg-type]


async def test_metrics_count_decisions_with_bounded_labels() -> None:
    registry = CollectorRegistry()
    recorder = DecisionRecorder()
    limiter = memory_limiter(
        tiers=TierSet.from_mapping({"FREE": "1/minute"}),
        recorder=recorder,
    )
    limiter.metrics = RateLimitMetrics(registry)
    await limiter.check(Identity("a"))
    await limiter.check(Identity("a"))
    await limiter.check(Identity("a"))
    sample = registry.get_sample_value
    assert (
        sample(
            "relaypoint_ratelimit_decisions_total",
            {"tier": "FREE", "outcome": "allowed", "source": "backend"},
        )
        == 1
    )
    assert (
        sample(
            "relaypoint_ratelimit_decisions_total",
            {"tier": "FREE", "outcome": "limited", "source": "backend"},
        )
        == 1
    )
    assert (
        sample(
            "relaypoint_ratelimit_decisions_total",
            {"tier": "FREE", "outcome": "limited", "source": "memo"},
        )
        == 1
    )
    assert [d.allowed for d in recorder.decisions] == [True, False, False]
    label_values = {
        value
        for metric in registry.collect()
        for s in metric.samples
        for value in s.labels.values()
    }
    assert "a" not in label_values  # never a user id


def test_default_tiers_are_exposed() -> None:
    assert DEFAULT_TIERS.names == ["FREE", "STARTER", "PROFESSIONAL", "ENTERPRISE"]
