"""A separate process for the cross-process cache tests (run as ``python -m tests.cache._worker``).

``stampede <url> <prefix> <start_at> <callers> <mode>``: wait until ``start_at`` (epoch seconds),
then run ``callers`` concurrent lookups of one cold key; the factory counts itself in Redis.
``watch <url> <prefix> <keys...>``: read the keys into L1, print ``ready``, then print a JSON line
(key, value, time) whenever a key's value as seen through the cache changes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio as redis_asyncio

from relaypoint_cache import MISSING, Cache, cached


async def stampede(url: str, prefix: str, start_at: float, callers: int, mode: str) -> None:
    cache = Cache(url, key_prefix=prefix, op_timeout=2.0)
    counter = redis_asyncio.Redis.from_url(url)
    await cache.wait_ready()

    async def compute() -> str:
        await counter.incr(f"{prefix}factory-calls")
        await asyncio.sleep(0.3)
        return "computed"

    @cached(ttl=60, namespace="stampede", cache=cache)
    async def decorated(item: int, tenant_id: str) -> str:
        return await compute()

    await asyncio.sleep(max(0.0, start_at - time.time()))
    if mode == "cached":
        results = await asyncio.gather(*(decorated(1, "acme") for _ in range(callers)))
    else:
        results = await asyncio.gather(
            *(cache.get_or_set("cold", compute, ttl=60, tenant_id="acme") for _ in range(callers))
        )
    print(json.dumps({"results": sorted(set(results))}), flush=True)
    await counter.aclose()
    await cache.close()


async def watch(url: str, prefix: str, keys: list[str]) -> None:
    cache = Cache(url, key_prefix=prefix, op_timeout=2.0)
    if not await cache.wait_ready():
        print(json.dumps({"error": "not subscribed"}), flush=True)
        return
    seen: dict[str, Any] = {}
    for key in keys:
        seen[key] = await cache.get(key, MISSING, tenant_id="acme")
    print(
        json.dumps({"ready": {k: (None if v is MISSING else v) for k, v in seen.items()}}),
        flush=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for key in keys:
            value = await cache.get(key, MISSING, tenant_id="acme")
            if value != seen[key]:
                seen[key] = value
                shown = "<missing>" if value is MISSING else value
                print(json.dumps({"key": key, "value": shown, "at": time.time()}), flush=True)
        await asyncio.sleep(0.001)
    stats = await cache.stats()
    print(json.dumps({"hits_l1": stats.namespaces["default"].hits_l1}), flush=True)
    await cache.close()


def main(argv: list[str]) -> None:
    command, url, prefix, *rest = argv
    if command == "stampede":
        asyncio.run(stampede(url, prefix, float(rest[0]), int(rest[1]), rest[2]))
    elif command == "watch":
        asyncio.run(watch(url, prefix, rest))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
