"""Resets and Retry-After against the exact sliding-window answer on the seed's FREE tier: at
most 1 s later on the minute window, 1 min on the hour, 15 min on the day (the issue's figures
were 62 s, 3773 s and 90533 s)."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import DEFAULT_TIERS, Identity, RateLimiter, Window
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.headers import rate_limit_headers, retry_after_seconds
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.policies import default_buckets
from tests.ratelimit.sfv import parse_list


def free_limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(
        MemoryBackend(clock=clock),
        tiers=DEFAULT_TIERS,
        clock=clock,
        metrics=RateLimitMetrics(CollectorRegistry()),
        memo_refusals=False,
    )


@pytest.mark.parametrize(
    ("seconds", "precision"), [(60, 1.0), (3_600, 60.0), (86_400, 900.0), (10, 0.166667)]
)
def test_default_bucket_length_is_the_documented_precision(
    seconds: float, precision: float
) -> None:
    window = Window(1, seconds)
    assert window.buckets == default_buckets(seconds)
    assert window.precision <= precision


@pytest.mark.parametrize(
    ("window", "requests", "spread"),
    [("minute", 60, 1.0), ("hour", 1_000, 60.0), ("day", 10_000, 3_600.0)],
)
async def test_retry_after_is_within_the_precision_of_the_exact_answer(
    window: str, requests: int, spread: float
) -> None:
    clock = FakeClock()
    limiter = free_limiter(clock)
    who = Identity(f"precise-{window}")
    # Fill the tier's `window` (the shorter windows roll over while it fills).
    first_at = clock.monotonic()
    step = spread / requests
    admitted = 0
    while admitted < requests:
        decision = await limiter.check(who)
        if decision.allowed:
            admitted += 1
            clock.advance(step)
        else:
            clock.advance(max(decision.retry_after or 0.0, step))
    refused = await limiter.check(who)
    assert not refused.allowed
    top = refused.most_constraining
    assert top is not None
    assert top.name == f"user.{window}"
    seconds = {"minute": 60, "hour": 3_600, "day": 86_400}[window]
    exact = first_at + seconds - clock.monotonic()  # when the first admission leaves
    precision = {"minute": 1, "hour": 60, "day": 900}[window]
    assert exact <= refused.retry_after <= exact + precision + 1e-6
    header = retry_after_seconds(refused)
    assert header <= math.ceil(exact) + precision
    state = parse_list(
        dict((k.decode(), v.decode()) for k, v in rate_limit_headers(refused))["ratelimit"]
    )
    assert state[f"user.{window}"]["t"] == header
