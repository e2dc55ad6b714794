"""Behaviour on memory, one Redis and a real 3-node Redis Cluster: the same API, the same answers,
leases and invalidation notices included."""

from __future__ import annotations

import asyncio

import pytest

from relaypoint_cache import MISSING, Cache, cached
from tests.cache.conftest import MakeCache
from tests.conftest import BackendTarget


@pytest.fixture
def cluster_target(backend_with_cluster: BackendTarget) -> BackendTarget:
    return backend_with_cluster


async def _ready(make_cache: MakeCache, target: BackendTarget, **options: object) -> Cache:
    cache = make_cache(target.url, key_prefix=target.key_prefix, **options)
    assert await cache.wait_ready(wait=10)
    return cache


async def test_api_on_every_backend(make_cache: MakeCache, cluster_target: BackendTarget) -> None:
    cache = await _ready(make_cache, cluster_target)
    tenants = ["acme", "glob{ex}", "t:*"]
    for tenant in tenants:
        await cache.set("user:1", {"t": tenant}, tenant_id=tenant)
        await cache.set("user:2", {"t": tenant}, tenant_id=tenant)
        await cache.set("order:1", {"t": tenant}, tenant_id=tenant, namespace="orders")
    assert await cache.get("user:1", tenant_id="glob{ex}") == {"t": "glob{ex}"}
    assert await cache.invalidate_pattern("user:*", tenant_id="acme") == 2
    assert await cache.get("user:2", MISSING, tenant_id="acme") is MISSING
    assert await cache.get("user:2", tenant_id="t:*") == {"t": "t:*"}
    await cache.invalidate_namespace("orders", tenant_id="glob{ex}")
    assert await cache.get("order:1", MISSING, tenant_id="glob{ex}", namespace="orders") is MISSING
    assert await cache.get("order:1", tenant_id="acme", namespace="orders") == {"t": "acme"}
    await cache.flush_tenant("t:*")
    assert await cache.get("user:1", MISSING, tenant_id="t:*") is MISSING
    assert await cache.delete("user:1", tenant_id="glob{ex}") is True
    assert await cache.get("user:1", MISSING, tenant_id="glob{ex}") is MISSING

    assert (await cache.stats()).errors == {}
    if cluster_target.is_redis:
        # A second cache (another "process") reads what the first wrote through L2.
        other = await _ready(make_cache, cluster_target)
        assert await other.get("order:1", tenant_id="acme", namespace="orders") == {"t": "acme"}
        assert await other.get("user:2", MISSING, tenant_id="acme") is MISSING


async def test_single_flight_and_lease_on_every_backend(
    make_cache: MakeCache, cluster_target: BackendTarget
) -> None:
    caches = [await _ready(make_cache, cluster_target) for _ in range(3)]
    calls = 0

    async def factory() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return "v"

    results = await asyncio.gather(
        *(
            c.get_or_set("cold", factory, ttl=30, tenant_id="acme")
            for c in caches
            for _ in range(100)
        )
    )
    assert set(results) == {"v"}
    # Memory: three separate L1s compute once each; Redis: the lease makes it one call in all.
    assert calls == (1 if cluster_target.is_redis else 3)

    @cached(ttl=30, namespace="users", cache=caches[0])
    async def user(user_id: int, tenant_id: str) -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"id": user_id}

    before = calls
    assert set(map(str, await asyncio.gather(*(user(1, "acme") for _ in range(200))))) == {
        "{'id': 1}"
    }
    assert calls == before + 1


async def test_invalidation_notices_reach_other_instances(
    make_cache: MakeCache, cluster_target: BackendTarget
) -> None:
    writer = await _ready(make_cache, cluster_target)
    reader = await _ready(make_cache, cluster_target)
    if not cluster_target.is_redis:
        # memory:// is L1 only by design: two instances (two processes) share nothing.
        await writer.set("k", "v1", tenant_id="acme")
        assert await reader.get("k", MISSING, tenant_id="acme") is MISSING
        return
    await writer.set("k", "v1", tenant_id="acme")
    await writer.set("user:1", "u1", tenant_id="acme")
    assert await reader.get("k", tenant_id="acme") == "v1"
    assert await reader.get("user:1", tenant_id="acme") == "u1"

    async def eventually(key: str, expected: object) -> None:
        for _ in range(200):
            if await reader.get(key, MISSING, tenant_id="acme") == expected:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"{key} never became {expected!r} in the reader")

    await writer.set("k", "v2", tenant_id="acme")
    await eventually("k", "v2")
    await writer.delete("k", tenant_id="acme")
    await eventually("k", MISSING)
    await writer.invalidate_pattern("user:*", tenant_id="acme")
    await eventually("user:1", MISSING)
    await writer.set("n", 1, tenant_id="acme", namespace="ns")
    assert await reader.get("n", tenant_id="acme", namespace="ns") == 1
    await writer.invalidate_namespace("ns", tenant_id="acme")
    for _ in range(200):
        if await reader.get("n", MISSING, tenant_id="acme", namespace="ns") is MISSING:
            break
        await asyncio.sleep(0.005)
    else:
        raise AssertionError("namespace invalidation never reached the reader")
