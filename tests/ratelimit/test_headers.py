"""Response headers and problem bodies (``relaypoint_ratelimit.headers``) from real decisions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import Decision, Identity, RateLimitConfigurationError, TierSet
from relaypoint_ratelimit.decision import PolicySet
from relaypoint_ratelimit.headers import (
    PROBLEM_TYPE,
    problem_body,
    rate_limit_headers,
    retry_after_seconds,
)
from relaypoint_ratelimit.testing import memory_limiter
from tests.ratelimit.sfv import parse_item, parse_list

TIERS = TierSet.from_mapping({"FREE": "3/minute", "PRO": "30/minute"})


def as_dict(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode().lower(): value.decode() for name, value in pairs}


async def test_admitted_headers_count_down_and_parse_as_structured_fields() -> None:
    clock = FakeClock()
    limiter = memory_limiter(clock=clock, tiers=TIERS)
    remaining = []
    for _ in range(3):
        headers = as_dict(rate_limit_headers(await limiter.check(Identity("u1"))))
        policy = parse_list(headers["ratelimit-policy"])
        state = parse_list(headers["ratelimit"])
        assert set(policy) == set(state)
        [(name, params)] = policy.items()
        assert params["q"] == 3
        assert params["w"] == 60
        remaining.append(state[name]["r"])
        assert parse_item(headers["x-ratelimit-limit"]) == 3
        assert "retry-after" not in headers
    assert remaining == [2, 1, 0]


async def test_a_refusal_carries_retry_after_and_a_problem_body() -> None:
    clock = FakeClock()
    limiter = memory_limiter(clock=clock, tiers=TIERS)
    for _ in range(3):
        await limiter.check(Identity("u1"))
    clock.advance(20)
    refused = await limiter.check(Identity("u1"))
    assert not refused.allowed
    headers = as_dict(rate_limit_headers(refused))
    retry = retry_after_seconds(refused)
    assert 1 <= retry <= 41  # the oldest request leaves the window at most one bucket late
    assert int(headers["retry-after"]) == retry
    body = json.loads(problem_body(refused, TIERS, instance="/api/x"))
    assert body["type"] == PROBLEM_TYPE
    assert body["status"] == 429
    assert body["retry_after"] == retry
    assert body["instance"] == "/api/x"
    assert body["upgrade"] is not None
    clock.advance(retry)
    assert (await limiter.check(Identity("u1"))).allowed


async def test_draft_12_renames_the_parameters_and_switches_turn_headers_off() -> None:
    limiter = memory_limiter(clock=FakeClock(), tiers=TIERS)
    decision = await limiter.check(Identity("u1"))
    draft12 = as_dict(rate_limit_headers(decision, syntax="draft-12"))
    [params] = parse_list(draft12["ratelimit"]).values()
    assert set(params) == {"a", "w"}
    assert not any(
        name.startswith("x-ratelimit")
        for name in as_dict(rate_limit_headers(decision, legacy=False))
    )
    assert "ratelimit" not in as_dict(rate_limit_headers(decision, draft=False))
    with pytest.raises(RateLimitConfigurationError):
        rate_limit_headers(decision, syntax="draft-99")


# One window: (whole seconds or not, window buckets, bucket µs, limit, shadow, used, age of the
# oldest live bucket in buckets or None for an empty window).
_window = st.tuples(
    st.booleans(),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=1, max_value=3_600),
    st.integers(min_value=1, max_value=10**7),
    st.booleans(),
    st.integers(min_value=0, max_value=10**7),
    st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)


@settings(max_examples=300, deadline=None)
@given(
    windows=st.lists(_window, min_size=1, max_size=7),
    now=st.integers(min_value=0, max_value=2 * 10**15),
    tier=st.sampled_from([None, "FREE", "PRO"]),
    syntax=st.sampled_from(["draft-11", "draft-12"]),
    legacy=st.booleans(),
    draft=st.booleans(),
)
def test_admitted_headers_from_raw_values_match_the_policy_states(
    windows: list[tuple[bool, int, int, int, bool, int, int | None]],
    now: int,
    tier: str | None,
    syntax: str,
    legacy: bool,
    draft: bool,
) -> None:
    """The hot path (from the backend's raw values, in whole seconds when it can) writes exactly
    the headers the per-policy states give (the path of decisions without raw values)."""
    statics = []
    values: list[int] = []
    for n, (whole, buckets, bucket, limit, shadow, used, age) in enumerate(windows):
        bucket_us = bucket * 1_000_000 if whole else bucket * 1_000 + 1
        window_us = buckets * bucket_us
        if age is None or used == 0:
            oldest, used = -1, 0
        else:
            # A live bucket: it leaves the window after now.
            oldest = max(0, (now - window_us) // bucket_us + 1 + min(age, buckets - 1))
            used = min(used, limit)
        scope = "user" if n % 2 else "tenant"
        statics.append(
            (
                f"{scope}.w{n}",
                scope,
                None if n % 3 else "ENT",
                f"w{n}",
                limit,
                window_us / 1e6,
                window_us,
                bucket_us,
                shadow,
            )
        )
        values += (used, oldest, 0)
    raw = Decision(True, None, tier, "backend", now, None, (PolicySet(statics), values))
    states = Decision(True, raw.policies, tier, "backend", now)
    options = {"legacy": legacy, "draft": draft, "syntax": syntax}
    assert rate_limit_headers(raw, **options) == rate_limit_headers(states, **options)
