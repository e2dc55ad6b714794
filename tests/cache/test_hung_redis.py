"""A Redis that accepts connections but never answers (SIGSTOP): every L2 call is cut off by its
timeout, the caller gets the fallback instead of an exception or a hang, and the cache reads L2
again once Redis answers."""

from __future__ import annotations

import asyncio

import pytest

from tests.cache.conftest import MakeCache
from tests.support.services import RedisServer

pytestmark = pytest.mark.redis


async def test_hung_redis_read_gives_the_default_then_recovers(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache = make_cache(
        redis_server.url,
        key_prefix="hung:",
        op_timeout=0.2,
        l1_max_entries=0,  # every get goes to L2
        circuit_failure_threshold=1000,  # the timeout, not the breaker, must cut the call off
    )
    assert await cache.wait_ready()
    await cache.set("k", "stored", ttl=60, tenant_id="acme")
    assert await cache.get("k", tenant_id="acme") == "stored"

    redis_server.pause()
    try:
        # wait_for only turns a hang into a failure of this test; no duration is asserted.
        fallback = await asyncio.wait_for(cache.get("k", "fallback", tenant_id="acme"), 30)
        assert fallback == "fallback"
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
    finally:
        redis_server.resume()

    for _ in range(100):
        if await cache.get("k", tenant_id="acme") == "stored":
            break
        await asyncio.sleep(0.05)
    assert await cache.get("k", tenant_id="acme") == "stored"


async def test_hung_redis_never_leaks_a_cancellation_into_the_caller(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache = make_cache(
        redis_server.url, key_prefix="hung2:", op_timeout=0.1, circuit_failure_threshold=1000
    )
    assert await cache.wait_ready()
    redis_server.pause()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(cache.get(f"k{i}", i, tenant_id="acme") for i in range(20))), 30
        )
    finally:
        redis_server.resume()
    assert results == list(range(20))
    await asyncio.sleep(0.3)  # past every deadline: a stray cancellation would surface here
