"""The message limiter behind relaypoint_core's MessageLimiter contract, on memory and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_core.message_limits import MessageLimiter
from relaypoint_core.request_state import Principal, ResolvedTenant
from relaypoint_ratelimit import RateLimiter, RoutePolicy, TierSet
from relaypoint_ratelimit.messages import MessageRateLimiter
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.conftest import BackendTarget


@pytest.fixture
async def limiter(backend: BackendTarget) -> AsyncIterator[RateLimiter]:
    lim = RateLimiter(
        backend.url,
        tiers=TierSet.from_mapping({"FREE": "2/minute"}),
        key_prefix=backend.key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=5,
    )
    await lim.startup()
    yield lim
    await lim.aclose()


def caller() -> Principal:
    return Principal(f"user-{uuid.uuid4().hex[:8]}", "acme")


async def test_it_is_a_message_limiter_counting_each_event_by_its_policy(
    limiter: RateLimiter,
) -> None:
    messages = MessageRateLimiter(
        limiter,
        {"chat.send": RoutePolicy("ws.chat", "3/minute"), "*": RoutePolicy("ws.any", "5/minute")},
    )
    assert isinstance(messages, MessageLimiter)
    who = caller()
    chat = [await messages.check_message(who, "chat.send") for _ in range(4)]
    assert [v.allowed for v in chat] == [True, True, True, False]
    assert [v.remaining for v in chat[:3]] == [2, 1, 0]
    refused = chat[-1]
    assert refused.policy == "route.ws.chat.minute"
    assert refused.retry_after is not None
    assert 0 < refused.retry_after <= 61
    # Other events have their own counter; HTTP tier windows are not touched by default.
    assert all([(await messages.check_message(who, "typing")).allowed for _ in range(5)])
    assert not (await messages.check_message(who, "typing")).allowed
    stats = await limiter.get_usage_stats(who.user_id, tenant_id="acme")
    assert stats.windows[0].used == 0


async def test_a_refused_message_consumes_nothing_and_costs_weigh(limiter: RateLimiter) -> None:
    messages = MessageRateLimiter(limiter, RoutePolicy("ws.bytes", "10/minute"))
    who = caller()
    assert (await messages.check_message(who, "upload", cost=8)).allowed
    assert not (await messages.check_message(who, "upload", cost=3)).allowed
    assert (await messages.check_message(who, "upload", cost=2)).allowed


async def test_tenant_policies_share_one_counter_across_the_tenant(limiter: RateLimiter) -> None:
    messages = MessageRateLimiter(limiter, RoutePolicy("ws.room", "2/minute", per="tenant"))
    tenant = ResolvedTenant(f"t-{uuid.uuid4().hex[:6]}", plan_tier="FREE")
    a, b = Principal("a", tenant.tenant_id), Principal("b", tenant.tenant_id)
    assert (await messages.check_message(a, "say", tenant=tenant)).allowed
    assert (await messages.check_message(b, "say", tenant=tenant)).allowed
    assert not (await messages.check_message(a, "say", tenant=tenant)).allowed


async def test_include_tiers_counts_messages_in_the_http_windows_too(limiter: RateLimiter) -> None:
    messages = MessageRateLimiter(limiter, {}, include_tiers=True)
    who = caller()
    verdicts = [await messages.check_message(who, "x") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].policy == "user.minute"
