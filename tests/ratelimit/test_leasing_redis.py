"""Local quota leasing on real Redis: round trips counted by the server itself (``INFO
commandstats`` of a private redis-server), slices given back, and N real processes leasing the
same windows (hypothesis over N, limits, slice caps and bursts) never admitting past a limit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as redis_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relaypoint_ratelimit import Identity, RateLimiter, TierSet
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.hammer import leased_tiers
from tests.ratelimit.oracle import Oracle
from tests.support.services import RedisServer

ROOT = Path(__file__).resolve().parents[2]
ENTERPRISE = TierSet.from_mapping({"ENTERPRISE": "5000/minute; 200000/hour; 2000000/day"})
CHECKS = 600


async def commands(client: Any) -> int:
    """Script calls the server has run: every call the limiter makes is one EVALSHA (the server
    counts the commands a script runs inside it under their own names, so they are left out)."""
    stats = await client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


def limiter(url: str, lease: float, **kw: Any) -> RateLimiter:
    return RateLimiter(
        url,
        tiers=ENTERPRISE,
        default_tier="ENTERPRISE",
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=5,
        quota_lease=lease,
        **kw,
    )


def test_leasing_cuts_round_trips_below_a_fifth_and_gives_the_rest_back(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url

    async def run() -> tuple[int, int, int, int]:
        client = redis_asyncio.Redis.from_url(url)
        exact, leased = limiter(url, 0), limiter(url, 0.05)
        await exact.startup()
        await leased.startup()
        who = Identity("reader", tenant_id="acme", tenant_tier="ENTERPRISE")
        start = await commands(client)
        for _ in range(CHECKS):
            assert (await exact.check(Identity("other", tenant_id="beta"))).allowed
        exact_calls = await commands(client) - start
        start = await commands(client)
        for _ in range(CHECKS):
            assert (await leased.check(who)).allowed
        leased_calls = await commands(client) - start
        await leased.aclose()  # gives back what it leased and did not admit
        start = await commands(client)
        used = [p.used for p in (await exact.peek(who)).policies]
        peek_calls = await commands(client) - start
        await exact.aclose()
        await client.aclose()
        return exact_calls, leased_calls, peek_calls, min(used) + max(used)

    exact_calls, leased_calls, peek_calls, used = asyncio.run(run())
    assert exact_calls == CHECKS  # one EVALSHA per exact check
    assert peek_calls == 1
    # s_max = 250 (5 % of 5,000): a lease call per 251 checks, or per second bucket ended.
    assert 3 <= leased_calls <= 0.2 * CHECKS
    assert used == 2 * CHECKS  # every window counts exactly what was admitted


def test_a_refused_lease_call_is_an_exact_refusal(redis_url: str, key_prefix: str) -> None:
    tiers = TierSet.from_mapping({"FREE": "20/minute"})

    async def run() -> list[bool]:
        rl = RateLimiter(
            redis_url,
            tiers=tiers,
            key_prefix=key_prefix,
            metrics=RateLimitMetrics(CollectorRegistry()),
            memo_refusals=False,
            quota_lease=0.25,
            timeout=5,
        )
        decisions = [await rl.check(Identity("greedy")) for _ in range(25)]
        await rl.aclose()
        for d in decisions:
            policy = d.policies[0]
            assert policy.remaining == policy.limit - policy.used
            if not d.allowed:
                assert d.retry_after is not None
                assert d.retry_after > 0
        return [d.allowed for d in decisions]

    assert asyncio.run(run()) == [True] * 20 + [False] * 5


def test_a_tier_stored_elsewhere_applies_from_the_next_lease_call(
    redis_url: str, key_prefix: str
) -> None:
    async def run() -> list[str | None]:
        kw: dict[str, Any] = {
            "key_prefix": key_prefix,
            "metrics": RateLimitMetrics(CollectorRegistry()),
            "timeout": 5,
        }
        leased = RateLimiter(redis_url, quota_lease=0.1, **kw)  # FREE: slices of up to 6
        admin = RateLimiter(redis_url, **kw)
        who = Identity("upgraded", tenant_id="acme")
        tiers = [(await leased.check(who)).tier]
        await admin.set_user_tier("upgraded", "STARTER", tenant_id="acme")
        tiers += [(await leased.check(who)).tier for _ in range(8)]
        await leased.aclose()
        used = [p.used for p in (await admin.peek(who)).policies]
        await admin.aclose()
        assert used == [9, 9, 9]  # what was admitted, nothing leased left counted
        return tiers

    tiers = asyncio.run(run())
    assert tiers[0] == "FREE"
    switched = tiers.index("STARTER")  # at most one slice (6) later, sooner if its bucket ended
    assert 1 <= switched <= 7
    assert set(tiers[switched:]) == {"STARTER"}


def run_hammers(
    url: str, prefix: str, n: int, lease: float, user_limit: int, tenant_limit: int, tasks: int
) -> list[dict[str, Any]]:
    tenant = f"lease-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 1.2
    args = [str(lease), str(user_limit), str(tenant_limit), str(tasks)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ratelimit.hammer",
                url,
                prefix,
                tenant,
                str(start_at),
                "1.5",
                *args,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n=st.integers(2, 4),
    user_limit=st.integers(20, 400),
    tenant_limit=st.integers(40, 1_000),
    lease=st.sampled_from([0.05, 0.1, 0.25]),
    tasks=st.integers(1, 6),
)
def test_processes_leasing_never_overshoot_and_refuse_within_n_times_s_max(
    redis_url: str,
    key_prefix: str,
    n: int,
    user_limit: int,
    tenant_limit: int,
    lease: float,
    tasks: int,
) -> None:
    outputs = run_hammers(redis_url, key_prefix, n, lease, user_limit, tenant_limit, tasks)
    events = sorted((t, ok) for out in outputs for t, ok in out["log"])
    assert all(len(out["log"]) > 10 for out in outputs), "every process must have taken part"
    tiers = leased_tiers(user_limit, tenant_limit)
    user_window = tiers.get("USER").windows[0]
    tenant_window = tiers.get("TENANT").windows[0]
    oracle = Oracle()
    oracle.counter("user", user_window)
    oracle.counter("tenant", tenant_window)
    for t, ok in events:
        oracle.record(["user", "tenant"], t, 1, ok)
    oracle.assert_never_over_limit()
    s_max = int(min(user_limit, tenant_limit) * lease)
    oracle.assert_refusals_justified(slack=n * s_max)
    assert len(events) > sum(ok for _, ok in events)  # the limit was reached
    grants = sum(out["grants"] for out in outputs)
    assert grants < len(events)  # leases admitted some checks without a round trip
