"""The cross-process lease on real Redis: waiters take over when the holder fails or its lease
expires, and a holder whose lease expired cannot overwrite its successor's value (fencing)."""

from __future__ import annotations

import asyncio

from relaypoint_cache import Cache
from tests.cache.conftest import MakeCache


async def _pair(
    make_cache: MakeCache, redis_url: str, key_prefix: str, **options: object
) -> tuple[Cache, Cache]:
    first = make_cache(redis_url, key_prefix=key_prefix, **options)
    second = make_cache(redis_url, key_prefix=key_prefix, **options)
    assert await first.wait_ready()
    assert await second.wait_ready()
    return first, second


async def test_waiter_takes_over_when_the_holder_fails(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    holder, waiter = await _pair(make_cache, redis_url, key_prefix, lease_wait=30)
    holder_started = asyncio.Event()

    async def failing() -> str:
        holder_started.set()
        # Fail only once the waiter is waiting on our lease (a condition, not a timing guess).
        async with asyncio.timeout(10):
            while True:
                stats = (await waiter.stats()).namespaces.get("default")
                if stats is not None and stats.lock_waits >= 1:
                    break
                await asyncio.sleep(0)  # a yield: the waiter runs until it is waiting on us
        raise ConnectionError("database went away")

    async def working() -> str:
        return "from-waiter"

    holder_call = asyncio.create_task(holder.get_or_set("k", failing, tenant_id="acme"))
    await holder_started.wait()
    result = await waiter.get_or_set("k", working, tenant_id="acme")
    assert result == "from-waiter"
    stats = (await waiter.stats()).namespaces["default"]
    assert stats.lock_waits == 1
    (outcome,) = await asyncio.gather(holder_call, return_exceptions=True)
    assert isinstance(outcome, ConnectionError)


async def test_expired_lease_frees_waiters_and_fences_the_old_holder(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    slow, fast = await _pair(make_cache, redis_url, key_prefix, lease_ttl=0.3, lease_wait=30)
    slow_started = asyncio.Event()
    fast_done = asyncio.Event()

    async def slow_factory() -> str:
        slow_started.set()
        # Hold on past the lease: finish only once the waiter has taken over, which it can only
        # do when Redis has expired the 0.3 s lease (by Redis's own clock, not a sleep here).
        await fast_done.wait()
        return "old"

    async def fast_factory() -> str:
        return "new"

    slow_call = asyncio.create_task(slow.get_or_set("k", slow_factory, tenant_id="acme"))
    await slow_started.wait()
    # The waiter is released by the lease's expiry, not by its own 30 s wait limit.
    assert await asyncio.wait_for(fast.get_or_set("k", fast_factory, tenant_id="acme"), 10) == "new"
    fast_done.set()
    assert await slow_call == "old"  # the slow caller still gets its own result ...
    reader = make_cache(redis_url, key_prefix=key_prefix)
    assert await reader.get("k", tenant_id="acme") == "new"  # ... but L2 keeps the newer value
