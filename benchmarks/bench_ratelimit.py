"""Rate limiting: relaypoint_ratelimit vs limits and pyrate-limiter, on one Redis and in memory.

Every library checks the same policies for a rotating pool of users (so checks are admissions,
not cheap refusals): the FREE tier (60/minute, 1000/hour, 10000/day) per user, then user plus
tenant (six windows). ``limits`` checks a list of limits with one ``hit`` per limit, as slowapi
does (its default async Redis client is coredis; a redis-py row is shown too), and with "test
every limit, then hit every limit" for the same all-or-nothing semantics as relaypoint.
pyrate-limiter checks all rates of one bucket per call, one bucket per scope. Round trips are
request writes counted inside redis-py and coredis connections. Rows of a table are timed in
alternating batches (medians of batch means), so load drifting on a shared machine hits every
row alike. Keys live under a unique prefix
and are deleted at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import coredis.connection as coredis_connection
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
from tests.support.services import RedisServer, delete_redis_prefix

from benchmarks._harness import Row, print_table
from relaypoint_ratelimit import EnterpriseRateLimiter, Identity, RateLimiter, TierSet
from relaypoint_ratelimit.metrics import RateLimitMetrics

REDIS_URL = os.environ.get("RELAYPOINT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
USERS = 1_000
OPS = 500
LEASE = 0.05
FREE_LIMITS = [RateLimitItemPerMinute(60), RateLimitItemPerHour(1_000), RateLimitItemPerDay(10_000)]
FREE_RATES = [Rate(60, Duration.MINUTE), Rate(1_000, Duration.HOUR), Rate(10_000, Duration.DAY)]


class RoundTrips:
    """Counts request writes to Redis by redis-py and coredis connections (one write carries one
    command, or a whole pipeline)."""

    def __init__(self) -> None:
        self.count = 0
        self._redispy = redis_connection.AbstractConnection.send_packed_command
        self._coredis = coredis_connection.BaseConnection._send_packed_command
        counter = self

        async def redispy_counting(self: Any, command: Any, check_health: bool = True) -> None:
            counter.count += 1
            await counter._redispy(self, command, check_health)

        async def coredis_counting(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
            counter.count += 1
            await counter._coredis(self, command, *args, **kwargs)

        redis_connection.AbstractConnection.send_packed_command = redispy_counting  # type: ignore[method-assign]
        coredis_connection.BaseConnection._send_packed_command = coredis_counting  # type: ignore[method-assign]

    def restore(self) -> None:
        redis_connection.AbstractConnection.send_packed_command = self._redispy  # type: ignore[method-assign]
        coredis_connection.BaseConnection._send_packed_command = self._coredis  # type: ignore[method-assign]


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
    """How slowapi uses limits: hit each limit in turn, stop at the first refusal (an earlier
    window has then already counted the refused request)."""
    for item in items:
        if not await strategy.hit(item, *keys):
            return False
    return True


async def limits_all_or_nothing(strategy: Any, items: list[Any], *keys: str) -> bool:
    """The same semantics as relaypoint (a refusal counts nowhere) with limits: test every
    limit, then hit every limit (still not atomic between processes)."""
    for item in items:
        if not await strategy.test(item, *keys):
            return False
    for item in items:
        await strategy.hit(item, *keys)
    return True


async def redis_tables(trips: RoundTrips) -> None:
    prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
    rp = RateLimiter(
        REDIS_URL, key_prefix=prefix, metrics=RateLimitMetrics(CollectorRegistry()), timeout=1
    )
    await rp.startup()
    # Local quota leasing (s_max = 5 % of the smallest limit: 3 of FREE's 60/minute).
    rp_leased = RateLimiter(
        REDIS_URL,
        key_prefix=prefix[:-1] + "leased:",
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=1,
        quota_lease=LEASE,
    )
    await rp_leased.startup()
    # limits' default async Redis client is coredis; redis-py is its alternative.
    storage = LimitsRedisStorage("async+" + REDIS_URL, key_prefix=prefix + "limits")
    storage_redispy = LimitsRedisStorage(
        "async+" + REDIS_URL, implementation="redispy", key_prefix=prefix + "limitsrp"
    )
    moving = MovingWindowRateLimiter(storage)
    moving_redispy = MovingWindowRateLimiter(storage_redispy)
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

    async def rp_leased_free() -> object:
        return await rp_leased.check(Identity(next_user()))

    async def mw_free() -> object:
        return await limits_hits(moving, FREE_LIMITS, next_user())

    async def sw_free() -> object:
        return await limits_hits(counter, FREE_LIMITS, next_user())

    async def mw_redispy_free() -> object:
        return await limits_hits(moving_redispy, FREE_LIMITS, next_user())

    async def mw_atomic_free() -> object:
        return await limits_all_or_nothing(moving, FREE_LIMITS, next_user())

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
                    ("relaypoint_ratelimit leased", rp_leased_free),
                    ("limits moving-window", mw_free),
                    ("limits moving-window redis-py", mw_redispy_free),
                    ("limits moving, test+hit", mw_atomic_free),
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
            for _, fn in cases:
                # Warm every user's key once so pyrate's bucket creation is not timed.
                for _ in range(USERS):
                    await fn()
            timings = await interleaved([fn for _, fn in cases], ops=OPS // 20, repeats=20)
            rows = []
            for (name, fn), seconds in zip(cases, timings, strict=True):
                rtt = await per_check_round_trips(trips, fn)
                rows.append(Row(name, seconds, {"round trips": f"{rtt:.2f}"}))
            print_table(title, rows, baseline="relaypoint_ratelimit")
        await hot_subject_table(trips, prefix)
    finally:
        await rp.aclose()
        await rp_leased.aclose()
        pyrate.close() if hasattr(pyrate, "close") else None
        delete_redis_prefix(REDIS_URL, prefix)
        await pyrate_redis.aclose()


class HotSubject:
    """One authenticated subject (ENTERPRISE: 5,000/minute, 200,000/hour, 2,000,000/day, with
    a tenant on the same tier: six windows) checked again and again, as an app's busy client
    is: exact checks, leased checks, and a raw redis-py GET (the floor of one round trip)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.who = Identity(
            "hot", tenant_id="hot-tenant", tenant_tier="ENTERPRISE", user_tier="ENTERPRISE"
        )
        self.exact_prefix = prefix[:-1] + "hot:"
        self.exact = RateLimiter(
            url, key_prefix=self.exact_prefix, metrics=RateLimitMetrics(CollectorRegistry())
        )
        self.leased = RateLimiter(
            url,
            key_prefix=prefix[:-1] + "hotleased:",
            metrics=RateLimitMetrics(CollectorRegistry()),
            quota_lease=LEASE,
        )
        self.raw = redis_asyncio.Redis.from_url(url)
        self.get_key = prefix + "hot:get"

    async def startup(self) -> None:
        await self.raw.set(self.get_key, b"1")
        await self.exact.startup()
        await self.leased.startup()

    async def aclose(self) -> None:
        await self.exact.aclose()
        await self.leased.aclose()
        await self.raw.aclose()

    def cases(self) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
        async def exact_check() -> object:
            return await self.exact.check(self.who)

        async def leased_check() -> object:
            return await self.leased.check(self.who)

        async def raw_get() -> object:
            return await self.raw.get(self.get_key)

        return [
            ("raw redis-py GET", raw_get),
            ("relaypoint_ratelimit", exact_check),
            ("relaypoint_ratelimit leased", leased_check),
        ]


async def hot_subject_table(trips: RoundTrips, prefix: str) -> None:
    """The busy subject's checks beside a raw GET, timed on the client (see ``HotSubject``)."""
    hot = HotSubject(REDIS_URL, prefix)
    await hot.startup()
    # 12 rounds of 100 checks, then 200 counted: 1,400 per limiter, all admissions (< 5,000/min).
    cases = hot.cases()
    try:
        samples: list[list[float]] = [[] for _ in cases]
        for _ in range(12):
            for index, (_, fn) in enumerate(cases):
                start = time.perf_counter()
                for _ in range(OPS // 5):
                    await fn()
                samples[index].append((time.perf_counter() - start) / (OPS // 5))
        rows = []
        for (name, fn), batch in zip(cases, samples, strict=True):
            rtt = await per_check_round_trips(trips, fn)
            rows.append(Row(name, statistics.median(batch), {"round trips": f"{rtt:.3f}"}))
        print_table(
            "Redis, one busy ENTERPRISE subject (user + tenant, 6 windows): one check",
            rows,
            baseline="raw redis-py GET",
        )
    finally:
        await hot.aclose()


async def fill_buckets(client: Any, prefix: str) -> None:
    """Make every window counter under ``prefix`` look like a subject busy for the last day: 60
    buckets (or all of a window's, if fewer) holding one use each before the current one. The
    hash is rewritten as buckets only, as the previous layout wrote it (the limiter's next count
    upgrades it), so the row means the same whatever layout the limiter keeps."""
    seconds, micros = await client.time()
    now = seconds * 1_000_000 + micros
    filled = 0
    async for raw in client.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode()
        if await client.type(key) != b"hash":
            continue
        filled += 1
        window_us, bucket_us = (int(v) for v in key.rsplit(":w", 1)[1].split("b"))
        buckets = {int(k): int(v) for k, v in (await client.hgetall(key)).items() if k.isdigit()}
        current = now // bucket_us
        for index in range(current - min(60, window_us // bucket_us) + 1, current):
            buckets.setdefault(index, 1)
        await client.delete(key)
        await client.hset(key, mapping=buckets)
        await client.pexpire(key, (window_us + bucket_us) // 1000 + 1)
    assert filled == 6, f"expected the busy subject's six window counters, found {filled}"


async def inside_redis_table() -> None:
    """What a check costs inside Redis: ``INFO commandstats`` of a private redis-server (no other
    client), script time per check (the commands a script runs are inside its EVALSHA's time),
    beside a GET. The server's own clock, so the machine's load moves every row alike; rows are
    measured in alternating rounds after a warm-up that fills the busy subject's buckets."""
    prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
    server = RedisServer().start()
    try:
        await _inside_redis_rows(server.url, prefix)
    finally:
        server.cleanup()


async def _inside_redis_rows(url: str, prefix: str) -> None:
    hot = HotSubject(url, prefix)
    busy = HotSubject(url, prefix[:-1] + "busy:")
    rotating = RateLimiter(
        url, key_prefix=prefix[:-1] + "rot:", metrics=RateLimitMetrics(CollectorRegistry())
    )
    stats = redis_asyncio.Redis.from_url(url)
    try:
        await hot.startup()
        await busy.startup()
        await rotating.startup()
        next_user = users("i")

        async def free() -> object:
            return await rotating.check(Identity(next_user()))

        async def tenant() -> object:
            user = next_user()
            return await rotating.check(Identity(user, tenant_id=f"t{user}", tenant_tier="FREE"))

        cases = [
            *hot.cases(),
            ("busy subject, full windows (6 windows)", busy.cases()[1][1]),
            ("FREE per user, 1,000 users (3 windows)", free),
            ("user + tenant, 1,000 users (6 windows)", tenant),
        ]
        for _, fn in cases:
            for _ in range(USERS):
                await fn()
        await fill_buckets(stats, busy.exact_prefix)
        usec: list[float] = [0.0] * len(cases)
        calls: list[float] = [0.0] * len(cases)
        checks = OPS // 5
        for _ in range(5):
            for index, (_, fn) in enumerate(cases):
                await stats.config_resetstat()
                for _ in range(checks):
                    await fn()
                info = await stats.info("commandstats")
                # A script's commands are inside its own time (and counted under their names).
                names = ("get",) if index == 0 else ("evalsha", "eval")
                for name in names:
                    usec[index] += info.get(f"cmdstat_{name}", {}).get("usec", 0)
                    calls[index] += info.get(f"cmdstat_{name}", {}).get("calls", 0)
        rows = [
            Row(
                name,
                usec[i] / (5 * checks) / 1e6,
                {"calls/check": f"{calls[i] / (5 * checks):.3f}"},
            )
            for i, (name, _) in enumerate(cases)
        ]
        print_table(
            "Inside Redis (commandstats of a private server): server time per check",
            rows,
            baseline="raw redis-py GET",
        )
    finally:
        await hot.aclose()
        await busy.aclose()
        await rotating.aclose()
        await stats.aclose()


async def memory_table() -> None:
    rp = RateLimiter("memory://", metrics=RateLimitMetrics(CollectorRegistry()))
    await rp.startup()
    storage = LimitsMemoryStorage()
    moving = MovingWindowRateLimiter(storage)
    counter = SlidingWindowCounterRateLimiter(storage)
    pyrate = Limiter(PerNameFactory(lambda name: InMemoryBucket(FREE_RATES)))

    async def mw_atomic_free() -> object:
        return await limits_all_or_nothing(moving, FREE_LIMITS, next_user())

    next_user = users("m")

    async def rp_free() -> object:
        return await rp.check(Identity(next_user()))

    async def mw_free() -> object:
        return await limits_hits(moving, FREE_LIMITS, next_user())

    async def sw_free() -> object:
        return await limits_hits(counter, FREE_LIMITS, next_user())

    async def pyrate_free() -> object:
        return await pyrate.try_acquire_async(next_user(), blocking=False)

    cases = [
        ("relaypoint_ratelimit", rp_free),
        ("limits moving-window", mw_free),
        ("limits moving, test+hit", mw_atomic_free),
        ("limits sliding-counter", sw_free),
        ("pyrate-limiter 4", pyrate_free),
    ]
    for _, fn in cases:
        for _ in range(USERS):
            await fn()
    timings = await interleaved(
        [fn for _, fn in cases], ops=OPS // 2, repeats=20, clock=time.process_time
    )
    rows = [Row(name, seconds) for (name, _), seconds in zip(cases, timings, strict=True)]
    print_table(
        "Memory, FREE tier per user (3 windows): one check (CPU time)",
        rows,
        baseline="relaypoint_ratelimit",
    )


async def interleaved(
    fns: list[Callable[[], Awaitable[object]]],
    *,
    ops: int,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per call of each function: ``repeats`` rounds, each running a batch of ``ops``
    calls of every function in turn; the median of each function's batches. Load drifting on a
    shared machine thus hits every function alike. In-process tables pass ``time.process_time``:
    CPU time is what they cost, and other processes' load does not leak into it."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for index, fn in enumerate(fns):
            start = clock()
            for _ in range(ops):
                await fn()
            samples[index].append((clock() - start) / ops)
    return [statistics.median(s) for s in samples]


async def middleware_table() -> None:
    from fastapi import FastAPI

    def build(with_limiter: bool) -> Any:
        app = FastAPI()

        @app.get("/ping")
        async def ping() -> dict[str, str]:
            return {"ok": "1"}

        if not with_limiter:
            return app
        # Three windows like FREE, with limits no benchmark reaches: every request is admitted
        # and served by the app (a 429 answered by the middleware would flatter the overhead).
        roomy = TierSet.from_mapping({"FREE": "100000000/minute; 100000000/hour; 100000000/day"})
        return EnterpriseRateLimiter(
            app, tiers=roomy, metrics=RateLimitMetrics(CollectorRegistry())
        )

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

    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for name, app in (("plain", plain), ("limited", limited))
    }

    def via_httpx(http: httpx.AsyncClient) -> Callable[[], Awaitable[object]]:
        async def request() -> object:
            response = await http.get("/ping")
            assert response.status_code == 200
            return response

        return request

    # Interleaved batches (plain, limited, plain, ...) so that load drifts on a shared machine
    # hit both sides alike; medians of the batches.
    httpx_times = await interleaved(
        [via_httpx(clients["plain"]), via_httpx(clients["limited"])],
        ops=OPS // 5,
        repeats=20,
        clock=time.process_time,
    )
    raw_times = await interleaved(
        [raw_call(plain), raw_call(limited)],
        ops=OPS,
        repeats=20,
        clock=time.process_time,
    )
    for http in clients.values():
        await http.aclose()
    for path, (base, limited_time) in (
        ("through httpx's ASGITransport (client + app)", httpx_times),
        ("raw ASGI call of the app", raw_times),
    ):
        overhead = limited_time - base
        rows = [
            Row("FastAPI, no limiter", base),
            Row(
                "FastAPI + EnterpriseRateLimiter",
                limited_time,
                {
                    "overhead us": f"{overhead * 1e6:.1f}",
                    "% of request": f"{overhead / limited_time:.1%}",
                },
            ),
        ]
        print_table(
            "Middleware overhead, memory backend, GET /ping on one FastAPI app with and without "
            f"the middleware: CPU time per request {path}",
            rows,
            baseline="FastAPI, no limiter",
        )


async def main() -> None:
    trips = RoundTrips()
    try:
        await redis_tables(trips)
    finally:
        trips.restore()
    await inside_redis_table()
    await memory_table()
    await middleware_table()
