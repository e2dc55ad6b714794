"""Local quota leasing with a fake clock: several limiters share one memory backend, as processes
share Redis, and lease slices of the same windows. Whatever the number of holders, limits, slice
caps and arrival pattern, no window ever admits more than its limit, a refusal leaves at most
``n * s_max`` of a window's budget unused, and headers never promise more than exists."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import (
    Identity,
    RateLimitConfigurationError,
    RateLimiter,
    Tier,
    TierSet,
    Window,
)
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.leasing import QUIET_SECONDS
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.oracle import Oracle
from tests.ratelimit.test_oracle import window_sets


def limiters(
    n: int, backend: MemoryBackend, clock: FakeClock, tiers: TierSet, fraction: float, **kw: object
) -> list[RateLimiter]:
    return [
        RateLimiter(
            backend,
            tiers=tiers,
            default_tier="U",
            clock=clock,
            metrics=RateLimitMetrics(CollectorRegistry()),
            memo_refusals=False,
            quota_lease=fraction,
            **kw,  # type: ignore[arg-type]
        )
        for _ in range(n)
    ]


steps_strategy = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(1, 500), st.integers(500, 20_000)),  # µs·1000 advance
        st.integers(0, 7),  # which holder
        st.integers(1, 8),  # a burst of that many checks at once
        st.booleans(),  # let given-back slices land before the burst
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    holders=st.integers(1, 5),
    windows=window_sets(1_000, 20_000, 40),
    tenant_windows=st.none() | window_sets(1_000, 20_000, 60),
    fraction=st.sampled_from([0.05, 0.1, 0.25, 0.5]),
    spread=st.integers(1, 4),
    steps=steps_strategy,
)
def test_leased_windows_never_overshoot_and_refuse_within_n_times_s_max(
    holders: int,
    windows: list[Window],
    tenant_windows: list[Window] | None,
    fraction: float,
    spread: int,
    steps: list[tuple[int, int, int, bool]],
) -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    tiers = TierSet([Tier("U", windows), *([Tier("T", tenant_windows)] if tenant_windows else [])])
    group = limiters(
        holders,
        backend,
        clock,
        tiers,
        fraction,
        quota_lease_spread=spread,
        default_tenant_tier="T" if tenant_windows else None,
    )
    all_windows = [*windows, *(tenant_windows or ())]
    s_max = int(min(w.limit for w in all_windows) * fraction)
    who = Identity("alice", tenant_id="acme")
    oracle = Oracle()
    names = [f"user.{w.name}" for w in windows] + [f"tenant.{w.name}" for w in tenant_windows or ()]
    for name, window in zip(names, all_windows, strict=True):
        oracle.counter(name, window)

    async def run() -> None:
        for advance_ms, index, burst, settle in steps:
            clock.advance(advance_ms / 1000)
            if settle:  # the give-backs in flight land before the burst (no time passes)
                await asyncio.gather(*(limiter.leases.given_back() for limiter in group))
            limiter = group[index % holders]
            decisions = await asyncio.gather(*(limiter.check(who) for _ in range(burst)))
            for decision in decisions:
                assert decision.source == "backend"
                assert [p.name for p in decision.policies] == names
                oracle.record(names, decision.clock_us, 1, decision.allowed)
        for limiter in group:
            await limiter.aclose()

    asyncio.run(run())
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified(slack=holders * s_max)


@settings(max_examples=100, deadline=None)
@given(
    windows=window_sets(1_000, 20_000, 60),
    fraction=st.sampled_from([0.05, 0.2, 0.5]),
    steps=st.lists(st.tuples(st.integers(0, 3_000), st.integers(1, 3)), min_size=1, max_size=60),
)
def test_one_holder_reports_exactly_what_it_admitted(
    windows: list[Window], fraction: float, steps: list[tuple[int, int]]
) -> None:
    """Alone, a holder's headers are the exact check's: used is what was admitted in the live
    buckets (or more, once an old bucket left the window mid-lease), never less."""
    clock = FakeClock()
    (limiter,) = limiters(
        1, MemoryBackend(clock=clock), clock, TierSet([Tier("U", windows)]), fraction
    )
    oracle = Oracle()
    names = [f"user.{w.name}" for w in windows]
    for name, window in zip(names, windows, strict=True):
        oracle.counter(name, window)

    async def run() -> None:
        for advance_ms, cost in steps:
            clock.advance(advance_ms / 1000)
            decision = await limiter.check(Identity("bob"), cost=cost)
            now = decision.clock_us
            # A local admission's clock is the lease's: when the backend counted it, same bucket.
            fake_now = int(clock.monotonic() * 1_000_000)
            assert now <= fake_now
            assert all(now // w.bucket_us == fake_now // w.bucket_us for w in windows)
            for name, policy in zip(names, decision.policies, strict=True):
                exact = oracle.counters[name].live_used(now) + (cost if decision.allowed else 0)
                assert policy.used >= exact, (name, policy, exact)
                assert policy.remaining <= policy.limit - exact
            oracle.record(names, now, cost, decision.allowed)
        await limiter.aclose()

    asyncio.run(run())
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()


def test_a_holder_alone_asks_the_backend_once_per_slice() -> None:
    clock = FakeClock()
    window = Window(1_000, 60, name="minute")
    (limiter,) = limiters(
        1, MemoryBackend(clock=clock), clock, TierSet([Tier("U", [window])]), 0.05
    )
    assert limiter.leases is not None

    async def run() -> None:
        for _ in range(200):
            assert (await limiter.check(Identity("carol"))).allowed
        # s = min(50, floor(R / 2)): each lease call admits its request and 50 more.
        assert limiter.leases.grants == 4
        await limiter.aclose()
        usage = await limiter.peek(Identity("carol"))
        assert usage.policies[0].used == 200  # the unspent 4 * 51 - 200 went back

    asyncio.run(run())


def test_slices_shrink_as_the_window_fills_and_stop_near_the_limit() -> None:
    clock = FakeClock()
    window = Window(40, 60, name="minute")
    (limiter,) = limiters(1, MemoryBackend(clock=clock), clock, TierSet([Tier("U", [window])]), 0.5)
    assert limiter.leases is not None

    async def run() -> list[int]:
        used_at_grant: list[int] = []
        for _ in range(45):
            before = limiter.leases.grants  # type: ignore[union-attr]
            decision = await limiter.check(Identity("dan"))
            if limiter.leases.grants != before:  # type: ignore[union-attr]
                used_at_grant.append(decision.policies[0].used)
        return used_at_grant

    used = asyncio.run(run())
    # R after each request: 39 -> s 19, then 19 -> s 9, 9 -> 4, 4 -> 2, 2 -> 1, then exact checks.
    assert used[:6] == [1, 21, 31, 36, 39, 40]
    assert len(used) == 6 + (45 - 40)  # near the limit every check is one call


def test_no_leasing_on_a_memory_backend_the_limiter_made_itself() -> None:
    limiter = RateLimiter(
        "memory://", quota_lease=0.05, metrics=RateLimitMetrics(CollectorRegistry())
    )
    assert limiter.leases is None
    assert limiter.check_now(Identity("erin")) is not None  # the synchronous fast path stays


@pytest.mark.parametrize(
    ("option", "value"),
    [("quota_lease", -0.1), ("quota_lease", 0.6), ("quota_lease", "5%"), ("quota_lease_spread", 0)],
)
def test_bad_leasing_options_are_refused(option: str, value: object) -> None:
    with pytest.raises(RateLimitConfigurationError, match=option):
        RateLimiter("memory://", **{option: value})  # type: ignore[arg-type]


def test_a_quiet_subjects_slice_goes_back_after_quiet_seconds() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    window = Window(1_000, 60, name="minute")
    (limiter,) = limiters(1, backend, clock, TierSet([Tier("U", [window])]), 0.05)
    (observer,) = limiters(1, backend, clock, TierSet([Tier("U", [window])]), 0)

    async def used(user: str) -> int:
        return (await observer.peek(Identity(user))).policies[0].used

    async def run() -> None:
        assert (await limiter.check(Identity("quiet"))).allowed
        assert await used("quiet") == 51  # its unit and a slice of 50
        clock.advance(window.bucket_us / 1_000_000)  # the lease has ended, not yet given back
        assert (await limiter.check(Identity("busy"))).allowed
        assert limiter.leases is not None
        await limiter.leases.given_back()
        assert await used("quiet") == 51  # the next lease may still take it back for free
        clock.advance(QUIET_SECONDS)
        assert (await limiter.check(Identity("busy2"))).allowed  # any lease call sweeps
        await limiter.leases.given_back()
        assert await used("quiet") == 1
        await limiter.aclose()
        assert await used("busy") == 1
        assert await used("busy2") == 1

    asyncio.run(run())
