"""The L2 hit path with no room in L1: every read is answered by Redis, counted as an L2 hit,
and sees another process's write at once (nothing is kept locally)."""

from __future__ import annotations

import pytest

from tests.cache.conftest import MakeCache

pytestmark = pytest.mark.redis


async def test_without_l1_every_read_is_an_l2_hit(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    reader = make_cache(redis_url, key_prefix=key_prefix, l1_max_entries=0)
    writer = make_cache(redis_url, key_prefix=key_prefix)
    assert await reader.wait_ready()
    await writer.set("user:42", {"v": 1}, ttl=60, tenant_id="acme", namespace="users")

    values = [await reader.get("user:42", tenant_id="acme", namespace="users") for _ in range(5)]

    assert values == [{"v": 1}] * 5
    stats = await reader.stats()
    assert stats.l1_entries == 0
    assert stats.namespaces["users"].hits_l2 == 5
    assert stats.namespaces["users"].hits_l1 == 0


async def test_without_l1_a_new_value_is_read_at_once(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    reader = make_cache(redis_url, key_prefix=key_prefix, l1_max_entries=0)
    writer = make_cache(redis_url, key_prefix=key_prefix)
    assert await reader.wait_ready()
    for version in range(3):
        await writer.set("user:42", version, ttl=60, tenant_id="acme")
        assert await reader.get("user:42", tenant_id="acme") == version


async def test_keys_that_need_escaping_hit_the_same_entry_every_time(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    reader = make_cache(redis_url, key_prefix=key_prefix, l1_max_entries=0)
    writer = make_cache(redis_url, key_prefix=key_prefix)
    assert await reader.wait_ready()
    keys = ["a:b", "a%3Ab", "{x}", "*", "a b"]
    for index, key in enumerate(keys):
        await writer.set(key, index, ttl=60, tenant_id="acme")
    for _ in range(2):  # the second pass is answered from the escape memo
        assert [await reader.get(k, tenant_id="acme") for k in keys] == list(range(len(keys)))
