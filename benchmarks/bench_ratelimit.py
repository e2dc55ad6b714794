"""Rate limiting: relaypoint_ratelimit vs limits and pyrate-limiter, on one Redis and in memory.

Every library checks the same policies for a rotating pool of users (so checks are admissions,
not cheap refusals): the FREE tier (60/minute, 1000/hour, 10000/day) per user, then user plus
tenant (six windows). ``limits`` checks a list of limits with one ``hit`` per limit (as slowapi
does); pyrate-limiter checks all rates of one bucket in one call, one bucket per scope. Round trips
are counted by wrapping redis-py's ``send_packed_command`` (a pipeline would count once), which
all three libraries use here. Keys live under a unique prefix and are deleted at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import redis.asyncio as redis_asyncio
import redis.asyncio.connection as redis_connection
from limits import RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage as LimitsMemoryStorage
from limits.aio.storage import RedisStorage as LimitsRedisStorage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from prometheus_client import CollectorRegistry
from pyrate_limiter import (
    BucketFactory,
    Duration,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
)

from benchmarks._harness import Row, print_table, time_async
from relaypoint_ratelimit import EnterpriseRateLimiter, Identity, RateLimiter
from relaypoint_ratelimit.metrics import RateLimitMetrics

REDIS_URL = os.environ.get("RELAYPOINT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
USERS = 4_000
OPS = 1_000
REPEATS = 5
FREE_LIMITS = [RateLimitItemPerMinute(60), RateLimitItemPerHour(1_000), RateLimitItemPerDay(10_000)]
FREE_RATES = [Rate(60, Duration.MINUTE), Rate(1_000, Duration.HOUR), Rate(10_000, Duration.DAY)]


class RoundTrips:
    """Counts requests written to Redis by any redis-py asyncio connection."""

    def __init__(self) -> None:
        self.count = 0
        self._original = redis_connection.AbstractConnection.send_packed_command
        counter = self

        async def counting(self: Any, command: Any, check_health: bool = True) -> None:
            counter.count += 1
            await counter._original(self, command, check_health)

        redis_connection.AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]

    def restore(self) -> None:
        redis_connection.AbstractConnection.send_packed_command = self._original  # type: ignore[method-assign]


async def per_check_round_trips(
    trips: RoundTrips, fn: Callable[[], Awaitable[object]], n: int = 200
) -> float:
    before = trips.count
    for _ in range(n):
        await fn()
    return (trips.count - before) / n


def users(prefix: str) -> Callable[[], str]:
    pool = itertools.cycle([f"{prefix}{i}" for i in range(USERS)])
    return lambda: next(pool)


class PerNameFactory(BucketFactory):
    """pyrate-limiter routing: one bucket per item name (user or tenant), created on first use."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make
        self._buckets: dict[str, Any] = {}

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        return RateItem(name, time.time_ns() // 1_000_000, weight=weight)

    def get(self, item: RateItem) -> Any:
        bucket = self._buckets.get(item.name)
        if bucket is not None:
            return bucket

        async def create() -> Any:
            made = self._make(item.name)
            bucket = (
                await made if asyncio.iscoroutine(made) or isinstance(made, Awaitable) else made
            )
            self._buckets[item.name] = bucket
            return bucket

        return create()


async def limits_hits(strategy: Any, items: list[Any], *keys: str) -> bool:
    for item in items:
        if not await strategy.hit(item, *keys):
            return False
    return True


async def redis_tables(trips: RoundTrips) -> None:
    prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
    rp = RateLimiter(
        REDIS_URL, key_prefix=prefix, metrics=RateLimitMetrics(CollectorRegistry()), timeout=1
    )
    await rp.startup()
    storage = LimitsRedisStorage(
        "async+" + REDIS_URL, implementation="redispy", key_prefix=prefix + "limits"
    )
    moving = MovingWindowRateLimiter(storage)
    counter = SlidingWindowCounterRateLimiter(storage)
    pyrate_redis = redis_asyncio.Redis.from_url(REDIS_URL)
    pyrate = Limiter(
        PerNameFactory(
            lambda name: RedisBucket.init(FREE_RATES, pyrate_redis, f"{prefix}pyrate:{name}")
        )
    )
    next_user = users("u")

    async def rp_free() -> object:
        return await rp.check(Identity(next_user()))

    async def rp_tenant() -> object:
        user = next_user()
        return await rp.check(Identity(user, tenant_id=f"t{user}", tenant_tier="FREE"))

    async def mw_free() -> object:
        return await limits_hits(moving, FREE_LIMITS, next_user())

    async def sw_free() -> object:
        return await limits_hits(counter, FREE_LIMITS, next_user())

    async def mw_tenant() -> object:
        user = next_user()
        return await limits_hits(moving, FREE_LIMITS, user) and await limits_hits(
            moving, FREE_LIMITS, "tenant", f"t{user}"
        )

    async def sw_tenant() -> object:
        user = next_user()
        return await limits_hits(counter, FREE_LIMITS, user) and await limits_hits(
            counter, FREE_LIMITS, "tenant", f"t{user}"
        )

    async def pyrate_free() -> object:
        return await pyrate.try_acquire_async(next_user(), blocking=False)

    async def pyrate_tenant() -> object:
        user = next_user()
        return await pyrate.try_acquire_async(
            user, blocking=False
        ) and await pyrate.try_acquire_async(f"tenant-t{user}", blocking=False)

    try:
        for title, cases in (
            (
                "Redis, FREE tier per user (3 windows): one check",
                [
                    ("relaypoint_ratelimit", rp_free),
                    ("limits moving-window", mw_free),
                    ("limits sliding-counter", sw_free),
                    ("pyrate-limiter 4", pyrate_free),
                ],
            ),
            (
                "Redis, user + tenant (6 windows): one check",
                [
                    ("relaypoint_ratelimit", rp_tenant),
                    ("limits moving-window", mw_tenant),
                    ("limits sliding-counter", sw_tenant),
                    ("pyrate-limiter 4", pyrate_tenant),
                ],
            ),
        ):
            rows = []
            for name, fn in cases:
                # Warm every user's key once so pyrate's bucket creation is not timed.
                for _ in range(USERS):
                    await fn()
                seconds = await time_async(fn, ops=OPS, repeats=REPEATS)
                rtt = await per_check_round_trips(trips, fn)
                rows.append(Row(name, seconds, {"round trips": f"{rtt:.2f}"}))
            print_table(title, rows, baseline="relaypoint_ratelimit")
    finally:
        await rp.aclose()
        pyrate.close() if hasattr(pyrate, "close") else None
        cleaner = redis_asyncio.Redis.from_url(REDIS_URL)
        batch: list[bytes] = []
        async for key in cleaner.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await cleaner.delete(*batch)
                batch.clear()
        if batch:
            await cleaner.delete(*batch)
        await cleaner.aclose()
        await pyrate_redis.aclose()


async def memory_table() -> None:
    rp = RateLimiter("memory://", metrics=RateLimitMetrics(CollectorRegistry()))
    await rp.startup()
    storage = LimitsMemoryStorage()
    moving = MovingWindowRateLimiter(storage)
    counter = SlidingWindowCounterRateLimiter(storage)
    pyrate = Limiter(PerNameFactory(lambda name: InMemoryBucket(FREE_RATES)))
    next_user = users("m")

    async def rp_free() -> object:
        return await rp.check(Identity(next_user()))

    async def mw_free() -> object:
        return await limits_hits(moving, FREE_LIMITS, next_user())

    async def sw_free() -> object:
        return await limits_hits(counter, FREE_LIMITS, next_user())

    async def pyrate_free() -> object:
        return await pyrate.try_acquire_async(next_user(), blocking=False)

    rows = []
    for name, fn in (
        ("relaypoint_ratelimit", rp_free),
        ("limits moving-window", mw_free),
        ("limits sliding-counter", sw_free),
        ("pyrate-limiter 4", pyrate_free),
    ):
        for _ in range(USERS):
            await fn()
        rows.append(Row(name, await time_async(fn, ops=OPS * 4, repeats=REPEATS)))
    print_table(
        "Memory, FREE tier per user (3 windows): one check", rows, baseline="relaypoint_ratelimit"
    )


async def middleware_table() -> None:
    from fastapi import FastAPI

    def build(with_limiter: bool) -> Any:
        app = FastAPI()

        @app.get("/ping")
        async def ping() -> dict[str, str]:
            return {"ok": "1"}

        if not with_limiter:
            return app
        return EnterpriseRateLimiter(app, metrics=RateLimitMetrics(CollectorRegistry()))

    plain, limited = build(False), build(True)
    # Many client addresses, so the middleware's checks are admissions like real traffic.
    addresses = itertools.cycle([f"10.{i // 250}.{i % 250}.1" for i in range(USERS)])

    def raw_call(app: Any) -> Callable[[], Awaitable[object]]:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            return None

        async def call() -> object:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/ping",
                "raw_path": b"/ping",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"host", b"bench")],
                "client": (next(addresses), 4000),
                "server": ("bench", 80),
            }
            await app(scope, receive, send)
            return None

        return call

    rows = []
    for name, app in (("FastAPI, no limiter", plain), ("FastAPI + EnterpriseRateLimiter", limited)):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as http:

            async def request(http: httpx.AsyncClient = http) -> object:
                return await http.get("/ping")

            seconds = await time_async(request, ops=OPS, repeats=REPEATS)
        raw = await time_async(raw_call(app), ops=OPS * 2, repeats=REPEATS)
        rows.append(Row(name, seconds, {"raw ASGI us": f"{raw * 1e6:.1f}"}))
    print_table(
        "Middleware overhead, memory backend, trivial endpoint (httpx ASGITransport request)",
        rows,
        baseline="FastAPI, no limiter",
    )
    base, with_mw = rows[0].seconds_per_op, rows[1].seconds_per_op
    raw_base = float(rows[0].extra["raw ASGI us"])
    raw_with = float(rows[1].extra["raw ASGI us"])
    print(
        f"overhead: {(with_mw - base) * 1e6:.1f} us = {(with_mw - base) / with_mw:.1%} of the request "
        f"latency through httpx; raw ASGI: {raw_with - raw_base:.1f} us = "
        f"{(raw_with - raw_base) / raw_with:.1%} of the app call",
        flush=True,
    )


async def main() -> None:
    trips = RoundTrips()
    try:
        await redis_tables(trips)
    finally:
        trips.restore()
    await memory_table()
    await middleware_table()
