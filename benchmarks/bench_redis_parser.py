"""Redis reply parsers: hiredis vs redis-py's pure-Python parser on the SDK's Redis round trips.

redis-py picks hiredis (`_AsyncHiredisParser`) when it is installed and its pure-Python RESP3
parser otherwise. Each operation is timed with both parsers in the same interleaved rounds
(see `benchmarks.bench_cache.paired_rounds`): a raw ``GET`` of a cache entry, a raw ``GET`` of
16 KB, an ``LRANGE`` of 100 items (a multi-bulk reply, where a C parser should matter most), a
relaypoint L2 hit (`Cache.get` with L1 disabled) and a rate-limit check (the limiter's
``EVALSHA`` through `relaypoint_ratelimit.backends.redis.RedisBackend`). Redis keys live under a
unique prefix and are deleted at the end.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import statistics
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from tests.support.services import delete_redis_prefix

from benchmarks._harness import Row, print_table
from benchmarks.bench_cache import REDIS_URL, VALUE, quantile, run_rounds, stored_entry

PARSERS = ("hiredis", "pure-Python")


def _parser_classes() -> dict[str, type]:
    from redis._parsers import _AsyncHiredisParser, _AsyncRESP3Parser

    return {"hiredis": _AsyncHiredisParser, "pure-Python": _AsyncRESP3Parser}


@contextlib.contextmanager
def default_parser(parser_class: type) -> Iterator[None]:
    """Make ``parser_class`` redis-py's default for connections created inside the block.

    `Cache` builds its own client, so the parser cannot be passed to it; its connections are
    created on first use, which the caller does inside the block.
    """
    from redis.asyncio.connection import AbstractConnection

    defaults = inspect.unwrap(AbstractConnection.__init__).__kwdefaults__
    assert defaults is not None
    previous = defaults["parser_class"]
    defaults["parser_class"] = parser_class
    try:
        yield
    finally:
        defaults["parser_class"] = previous


def _parsers_in(pool: Any) -> set[str]:
    connections = [*pool._available_connections, *pool._in_use_connections]
    return {type(c._parser).__name__ for c in connections}


async def bench_parsers(prefix: str) -> None:
    import redis.asyncio as redis_asyncio

    from relaypoint_cache import Cache
    from relaypoint_ratelimit.backends.base import BackendRequest, CounterSpec
    from relaypoint_ratelimit.backends.redis import RedisBackend

    classes = _parser_classes()
    seed = redis_asyncio.Redis.from_url(REDIS_URL)
    large = os.urandom(16 * 1024)
    await seed.set(f"{prefix}p:large", large)
    await seed.rpush(f"{prefix}p:list", *[f"item-{i:04d}".encode() for i in range(100)])
    request = BackendRequest(
        counters=(
            CounterSpec(
                f"{prefix}p:rl", window_us=60_000_000, bucket_us=1_000_000, limit=10**12, cost=1
            ),
        )
    )
    contenders: dict[str, Callable[[], Awaitable[Any]]] = {}
    clients: dict[str, Any] = {}
    caches: dict[str, Cache] = {}
    limiters: dict[str, RedisBackend] = {}
    entry_written = False
    for label in PARSERS:
        parser = classes[label]
        raw = clients[label] = redis_asyncio.Redis.from_url(REDIS_URL, parser_class=parser)
        limiter = limiters[label] = RedisBackend(
            REDIS_URL, client=redis_asyncio.Redis.from_url(REDIS_URL, parser_class=parser)
        )
        await limiter.startup()
        with default_parser(parser):
            cache = caches[label] = Cache(
                REDIS_URL, key_prefix=prefix, l1_max_entries=0, report_to_monitor=False
            )
            await cache.wait_ready()
            if not entry_written:
                await cache.set("user:42", VALUE, ttl=3600, tenant_id="acme")
                entry_written = True
            assert await cache.get("user:42", tenant_id="acme") == VALUE
        if label == PARSERS[0]:
            await seed.set(f"{prefix}p:raw", await stored_entry(seed, prefix))
        contenders[f"raw GET entry, {label}"] = lambda r=raw: r.get(f"{prefix}p:raw")
        contenders[f"raw GET 16 KB, {label}"] = lambda r=raw: r.get(f"{prefix}p:large")
        contenders[f"raw LRANGE 100, {label}"] = lambda r=raw: r.lrange(f"{prefix}p:list", 0, -1)
        contenders[f"relaypoint get (L2), {label}"] = lambda c=cache: c.get(
            "user:42", tenant_id="acme"
        )
        contenders[f"rate-limit EVALSHA, {label}"] = lambda b=limiter: b.apply(request)

    samples = await run_rounds(contenders, rounds=60, ops=50)
    for label in PARSERS:
        # Every connection each client made parses with the parser under test.
        assert _parsers_in(clients[label].connection_pool) == {classes[label].__name__}
        assert _parsers_in(limiters[label].client.connection_pool) <= {classes[label].__name__}
        cache_client = caches[label]._l2.current()._client
        assert _parsers_in(cache_client.connection_pool) <= {classes[label].__name__}

    rows = []
    for op in (
        "raw GET entry",
        "raw GET 16 KB",
        "raw LRANGE 100",
        "relaypoint get (L2)",
        "rate-limit EVALSHA",
    ):
        fast, slow = samples[f"{op}, hiredis"], samples[f"{op}, pure-Python"]
        ratios = [s / f for s, f in zip(slow, fast, strict=True)]
        rows.append(
            Row(
                op,
                statistics.median(fast),
                {
                    "pure us/op": f"{statistics.median(slow) * 1e6:.2f}",
                    "pure/hi paired": f"{statistics.median(ratios):.3f}",
                    "pure/hi p25-p75": f"{quantile(ratios, 0.25):.2f}-{quantile(ratios, 0.75):.2f}",
                },
            )
        )
    print_table(
        "Reply parser: hiredis (us/op) vs pure-Python, paired per round (60 rounds of 50)",
        rows,
        baseline="raw GET entry",
    )
    for cache in caches.values():
        await cache.close()
    for limiter in limiters.values():
        await limiter.aclose()
    for client in clients.values():
        await client.aclose()
    await seed.aclose()


async def main() -> None:
    prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
    try:
        await bench_parsers(prefix)
    finally:
        delete_redis_prefix(REDIS_URL, prefix)
