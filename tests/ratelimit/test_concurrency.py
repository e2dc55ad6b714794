"""Concurrency limits through leases: in-flight requests per user or tenant, released on
completion, renewed while held, and freed when the holding process is killed (real Redis)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import (
    EnterpriseRateLimiter,
    Identity,
    RateLimiter,
    RateLimitExceeded,
    TierSet,
)
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.backends.redis import RedisBackend
from relaypoint_ratelimit.concurrency import ConcurrencyLimiter, ConcurrencyPolicy
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.sfv import parse_all
from tests.ratelimit.test_middleware import FakeAuth, client

ROOT = Path(__file__).resolve().parents[2]
QUOTA = "https://iana.org/assignments/http-problem-types#quota-exceeded"


async def test_leases_cap_in_flight_requests_and_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    leases = ConcurrencyLimiter(MemoryBackend(clock=clock))
    policy = ConcurrencyPolicy("jobs", 2, lease_seconds=10)
    who = Identity("u1")
    first, second = await leases.acquire(who, policy), await leases.acquire(who, policy)
    third = await leases.acquire(who, policy)
    assert (first.granted, second.granted, third.granted) == (True, True, False)
    assert third.in_flight == 2
    assert not third.decision().allowed
    assert (await leases.acquire(Identity("u2"), policy)).granted  # per user
    await leases.release(first)
    assert (await leases.acquire(who, policy)).granted
    clock.advance(10.001)  # nobody renewed: every lease of u1 has expired
    assert not await leases.renew(second)
    assert (await leases.acquire(who, policy)).in_flight == 1


async def test_a_tenant_policy_counts_every_user_of_the_tenant() -> None:
    leases = ConcurrencyLimiter(MemoryBackend())
    policy = ConcurrencyPolicy("exports", 1, per="tenant")
    assert (await leases.acquire(Identity("a", tenant_id="acme"), policy)).granted
    assert not (await leases.acquire(Identity("b", tenant_id="acme"), policy)).granted
    assert (await leases.acquire(Identity("c", tenant_id="globex"), policy)).granted


async def test_hold_releases_on_exit_and_raises_when_full() -> None:
    leases = ConcurrencyLimiter(MemoryBackend())
    policy = ConcurrencyPolicy("jobs", 1)
    who = Identity("h")
    async with leases.hold(who, policy):
        with pytest.raises(RateLimitExceeded):
            async with leases.hold(who, policy):
                pass
    async with leases.hold(who, policy) as lease:
        assert lease.granted


def test_policy_validation() -> None:
    for bad in ({"limit": 0}, {"per": "route"}, {"lease_seconds": 0}, {"name": "a b"}):
        options: dict[str, Any] = {"name": "p", "limit": 1, **bad}
        with pytest.raises(ValueError):
            ConcurrencyPolicy(**options)


async def test_the_middleware_refuses_a_request_over_the_in_flight_limit() -> None:
    app = FastAPI()
    started, release = asyncio.Event(), asyncio.Event()

    @app.post("/uploads")
    async def upload() -> dict[str, str]:
        started.set()
        await release.wait()
        return {"upload": "done"}

    limited = EnterpriseRateLimiter(
        app,
        tiers=TierSet.from_mapping({"FREE": "100/minute"}),
        concurrency_policies=[ConcurrencyPolicy("uploads", 1, path_prefixes=("/uploads",))],
        metrics=RateLimitMetrics(CollectorRegistry()),
        clock=FakeClock(),
    )
    asgi = FakeAuth(limited)
    async with client(asgi) as http:
        first = asyncio.create_task(http.post("/uploads", headers={"x-user": "u"}))
        await started.wait()
        refused = await http.post("/uploads", headers={"x-user": "u"})
        other = asyncio.create_task(http.post("/uploads", headers={"x-user": "v"}))
        release.set()
        assert (await first).status_code == 200
        assert (await other).status_code == 200
        again = await http.post("/uploads", headers={"x-user": "u"})
    assert refused.status_code == 429
    assert refused.json()["type"] == QUOTA
    assert refused.json()["violated-policies"] == ["concurrency.uploads"]
    assert parse_all(refused.headers) == {"retry-after": 1}  # no window to describe
    assert again.status_code == 200


@pytest.mark.redis
async def test_a_lease_expires_after_its_holder_process_is_killed(
    redis_url: str, key_prefix: str
) -> None:
    user = f"holder-{uuid.uuid4().hex[:8]}"
    lease_seconds = 1.0
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.ratelimit.lease_holder", redis_url, key_prefix, user, "1.0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    backend = RedisBackend(redis_url)
    leases = ConcurrencyLimiter(backend, keys=RateLimitKeys(key_prefix), timeout=5)
    policy = ConcurrencyPolicy("jobs", 1, lease_seconds=lease_seconds)
    try:
        assert holder.stdout is not None
        taken = json.loads(await asyncio.to_thread(holder.stdout.readline))
        assert taken["granted"]
        # While the holder lives it renews: refused even after its first lease would have expired.
        first_expiry = taken["clock_us"] + int(lease_seconds * 1_000_000)
        while True:
            refused = await leases.acquire(Identity(user), policy)
            assert not refused.granted, "a live holder's lease must not expire"
            if refused.clock_us > first_expiry:
                break
            await asyncio.sleep(0.05)
        holder.kill()
        holder.wait(timeout=10)
        last = await leases.acquire(Identity(user), policy)
        assert not last.granted  # dead, but its last renewal has not run out yet
        for _ in range(200):
            lease = await leases.acquire(Identity(user), policy)
            if lease.granted:
                break
            await asyncio.sleep(0.05)
        assert lease.granted, "the dead holder's lease never expired"
        assert lease.clock_us >= last.expires_us  # freed by expiry, by the server's clock
        await leases.release(lease)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
        if holder.stderr is not None:
            holder.stderr.close()
        await backend.aclose()


@pytest.mark.parametrize(("policy", "status"), [("open", 200), ("closed", 503)])
async def test_an_unreachable_backend_follows_the_fault_policy_for_leases(
    policy: str, status: int
) -> None:
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict[str, str]:
        return {"work": "done"}

    limited = EnterpriseRateLimiter(
        app,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
        fault_policy=policy,
        concurrency_policies=[ConcurrencyPolicy("work", 1)],
        metrics=RateLimitMetrics(CollectorRegistry()),
    )
    async with client(FakeAuth(limited)) as http:
        response = await http.get("/work", headers={"x-user": "u"})
    assert response.status_code == status
    if status == 200:
        assert parse_all(response.headers) == {}  # fail-open: no rate-limit field at all


async def test_check_now_answers_only_on_the_in_process_backend(redis_url: str) -> None:
    remote = RateLimiter(redis_url, metrics=RateLimitMetrics(CollectorRegistry()))
    local = RateLimiter(metrics=RateLimitMetrics(CollectorRegistry()))
    try:
        assert remote.check_now(Identity("x")) is None
        decision = local.check_now(Identity("x"))
        assert decision is not None
        assert decision.allowed
    finally:
        await remote.aclose()
