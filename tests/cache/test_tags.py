"""Tag invalidation: O(1) version bumps across namespaces, on L1, Redis and other processes."""

from __future__ import annotations

import asyncio

import pytest

from relaypoint_cache import MISSING, CacheConfigurationError, cached
from relaypoint_cache.envelope import EntryMeta, pack_entry, unpack_entry
from relaypoint_cache.serializers import SignedPickleSerializer
from relaypoint_cache.testing import CountingFactory
from tests.cache.conftest import BackendCache
from tests.conftest import BackendTarget

pytestmark = pytest.mark.usefixtures("backend")


async def test_invalidate_tag_across_namespaces(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    await cache.set("profile", "p", tenant_id="acme", namespace="users", tags=["user:1"])
    await cache.set("orders", "o", tenant_id="acme", namespace="orders", tags=["user:1", "shop"])
    await cache.set("other", "x", tenant_id="acme", namespace="users", tags=["user:2"])
    await cache.set("profile", "g", tenant_id="globex", namespace="users", tags=["user:1"])
    await cache.invalidate_tag("user:1", tenant_id="acme")
    assert await cache.get("profile", MISSING, tenant_id="acme", namespace="users") is MISSING
    assert await cache.get("orders", MISSING, tenant_id="acme", namespace="orders") is MISSING
    assert await cache.get("other", tenant_id="acme", namespace="users") == "x"
    assert await cache.get("profile", tenant_id="globex", namespace="users") == "g"
    # New entries with the tag are cached again under the new version.
    await cache.set("profile", "p2", tenant_id="acme", namespace="users", tags=["user:1"])
    assert await cache.get("profile", tenant_id="acme", namespace="users") == "p2"


async def test_tagged_get_or_set_and_cached(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    factory = CountingFactory("v")
    await cache.get_or_set("k", factory, tenant_id="acme", tags=["t"])
    await cache.get_or_set("k", factory, tenant_id="acme", tags=["t"])
    assert factory.calls == 1
    await cache.invalidate_tag("t", tenant_id="acme")
    await cache.get_or_set("k", factory, tenant_id="acme", tags=["t"])
    assert factory.calls == 2

    calls: list[str] = []

    @cached(ttl=60, cache=cache, tags=lambda user_id, tenant_id: [f"user:{user_id}"])
    async def profile(user_id: str, tenant_id: str) -> str:
        calls.append(user_id)
        return user_id

    await profile("1", "acme")
    await profile("2", "acme")
    await cache.invalidate_tag("user:1", tenant_id="acme")
    await profile("1", "acme")
    await profile("2", "acme")
    assert calls == ["1", "2", "1"]


async def test_tag_invalidation_reaches_l2_readers(
    backend: BackendTarget, backend_cache: BackendCache
) -> None:
    writer, reader = await backend_cache(), await backend_cache()
    if not backend.is_redis:
        # memory:// shares nothing between caches: the reader never had the entry.
        await writer.set("k", "v", tenant_id="acme", tags=["t"])
        assert await reader.get("k", MISSING, tenant_id="acme") is MISSING
        return
    await writer.set("k", "v", tenant_id="acme", tags=["t"])
    assert await reader.get("k", tenant_id="acme") == "v"
    await writer.invalidate_tag("t", tenant_id="acme")
    for _ in range(200):
        if await reader.get("k", MISSING, tenant_id="acme") is MISSING:
            break
        await asyncio.sleep(0.005)  # the notice travels through Redis pub/sub to the reader
    else:
        raise AssertionError("the tag invalidation never reached the reader")
    fresh = await backend_cache()
    assert await fresh.get("k", MISSING, tenant_id="acme") is MISSING


async def test_bad_tags_are_refused(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    with pytest.raises(CacheConfigurationError):
        await cache.set("k", 1, tenant_id="acme", tags=[""])


def test_tag_block_is_covered_by_the_pickle_signature() -> None:
    serializer = SignedPickleSerializer("k" * 40)
    meta = EntryMeta(1.0, 2.0, 2.0, 2.0, 0.0, (("t", 3),))
    data = pack_entry(serializer, b"key", meta, {"x": 1})
    assert unpack_entry(serializer, b"key", data) == (meta, {"x": 1})
    forged = data.replace(b'[["t",3]]', b'[["t",4]]')
    assert forged != data
    with pytest.raises(Exception, match="signature"):
        unpack_entry(serializer, b"key", forged)


async def test_tag_bookkeeping_stays_bounded() -> None:
    from relaypoint_cache import Cache

    cache = Cache("memory://", l1_max_entries=10)
    for i in range(500):
        await cache.set(f"k{i}", i, tenant_id="acme", tags=[f"tag{i}", "all"])
    stats = await cache.stats()
    assert 0 < stats.tag_index_entries <= 2 * 10 + 1
    assert 0 < stats.largest_tag <= 2 * 10 + 1  # the "all" tag holds no more than L1 does
    await cache.invalidate_tag("all", tenant_id="acme")
    assert (await cache.stats()).l1_entries == 0
