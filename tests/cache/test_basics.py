"""The seed's API on both backends: set/get/delete, tenants, namespaces, factories, invalidation."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio

from relaypoint_cache import MISSING, Cache, CacheConfigurationError, cached
from relaypoint_core.errors import InvalidTenantIdError
from relaypoint_core.tenant_context import tenant_scope
from tests.cache.conftest import BackendCache
from tests.conftest import BackendTarget
from tests.support.services import delete_redis_prefix

pytestmark = pytest.mark.usefixtures("backend")


async def until_coalesced(cache: Cache, namespace: str, waiting: int) -> None:
    """Yield to the callers until ``waiting`` of them wait on one computation (no timing guess)."""
    async with asyncio.timeout(10):
        while True:
            stats = (await cache.stats()).namespaces.get(namespace)
            if stats is not None and stats.coalesced >= waiting:
                return
            await asyncio.sleep(0)


async def test_set_get_delete_round_trip(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    user = {"id": "123", "name": "Ada", "roles": ["admin"]}
    assert await cache.set("user:123", user, ttl=3600, tenant_id="acme") is True
    assert await cache.get("user:123", tenant_id="acme") == user
    assert await cache.delete("user:123", tenant_id="acme") is True
    assert await cache.get("user:123", tenant_id="acme") is None
    assert await cache.delete("user:123", tenant_id="acme") is False


async def test_cached_none_is_not_a_miss(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    await cache.set("nothing", None, tenant_id="acme")
    assert await cache.get("nothing", MISSING, tenant_id="acme") is None
    assert await cache.get("absent", MISSING, tenant_id="acme") is MISSING
    calls = 0

    async def factory() -> None:
        nonlocal calls
        calls += 1

    assert await cache.get_or_set("none-value", factory, tenant_id="acme") is None
    assert await cache.get_or_set("none-value", factory, tenant_id="acme") is None
    assert calls == 1


async def test_l2_serves_a_fresh_process(
    backend: BackendTarget, backend_cache: BackendCache
) -> None:
    writer, reader = await backend_cache(), await backend_cache()
    await writer.set("user:1", {"id": 1}, tenant_id="acme")
    expected = {"id": 1} if backend.is_redis else None
    assert await reader.get("user:1", tenant_id="acme") == expected


async def test_tenants_and_namespaces_are_separate(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    await cache.set("user:1", "acme-user", tenant_id="acme")
    await cache.set("user:1", "globex-user", tenant_id="globex")
    await cache.set("user:1", "platform-user")
    await cache.set("user:1", "acme-order", tenant_id="acme", namespace="orders")
    assert await cache.get("user:1", tenant_id="acme") == "acme-user"
    assert await cache.get("user:1", tenant_id="globex") == "globex-user"
    assert await cache.get("user:1") == "platform-user"
    assert await cache.get("user:1", tenant_id="acme", namespace="orders") == "acme-order"
    with tenant_scope("globex"):
        assert await cache.get("user:1") == "globex-user"


async def test_factories_sync_async_and_lambda(backend_cache: BackendCache) -> None:
    cache = await backend_cache()

    async def fetch_user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    assert await cache.get_or_set(
        key="user:1", factory_func=lambda: fetch_user("1"), ttl=3600, tenant_id="acme"
    ) == {"id": "1"}
    assert await cache.get_or_set("user:2", lambda: {"id": "2"}, tenant_id="acme") == {"id": "2"}

    async def async_factory() -> str:
        return "async"

    assert await cache.get_or_set("user:3", async_factory, tenant_id="acme") == "async"
    assert await cache.get("user:2", tenant_id="acme") == {"id": "2"}


async def test_factory_errors_reach_the_caller_and_are_not_cached(
    backend_cache: BackendCache,
) -> None:
    cache = await backend_cache()

    async def broken() -> str:
        raise LookupError("database says no")

    with pytest.raises(LookupError):
        await cache.get_or_set("k", broken, tenant_id="acme")
    assert await cache.get_or_set("k", lambda: "ok", tenant_id="acme") == "ok"


async def test_thousand_concurrent_callers_one_factory_call(
    backend_cache: BackendCache,
) -> None:
    cache = await backend_cache()
    calls = 0
    everyone_waits = asyncio.Event()

    async def factory() -> str:
        nonlocal calls
        calls += 1
        await everyone_waits.wait()
        return "value"

    callers = asyncio.gather(
        *(cache.get_or_set("cold", factory, ttl=60, tenant_id="acme") for _ in range(1000))
    )
    await until_coalesced(cache, "default", 999)
    everyone_waits.set()
    results = await callers
    assert calls == 1
    assert set(results) == {"value"}
    stats = await cache.stats()
    assert stats.namespaces["default"].coalesced == 999


async def test_cached_decorator_single_flight_and_tenants(
    backend_cache: BackendCache,
) -> None:
    cache = await backend_cache()
    calls: list[tuple[str, str]] = []
    everyone_waits = asyncio.Event()

    @cached(ttl=300, namespace="users", cache=cache)
    async def get_user_by_id(user_id: str, tenant_id: str) -> dict[str, str]:
        calls.append((user_id, tenant_id))
        await everyone_waits.wait()
        return {"id": user_id, "tenant": tenant_id}

    callers = asyncio.gather(*(get_user_by_id("7", "acme") for _ in range(1000)))
    await until_coalesced(cache, "users", 999)
    everyone_waits.set()
    results = await callers
    assert calls == [("7", "acme")]
    assert all(r == {"id": "7", "tenant": "acme"} for r in results)
    assert await get_user_by_id("7", tenant_id="globex") == {"id": "7", "tenant": "globex"}
    assert len(calls) == 2
    assert await get_user_by_id.invalidate("7", "acme") is True
    await get_user_by_id("7", "acme")
    assert len(calls) == 3

    @cached(ttl=300, cache=cache)
    async def report(day: int) -> int:
        calls.append((str(day), "ctx"))
        return day

    with tenant_scope("acme"):
        await report(1)
        await report(1)
    with tenant_scope("globex"):
        await report(1)
    assert calls[3:] == [("1", "ctx"), ("1", "ctx")]


def test_cached_refuses_sync_functions() -> None:
    with pytest.raises(CacheConfigurationError):

        @cached(ttl=5)
        def not_async() -> int:  # pragma: no cover - never called
            return 1


async def test_invalidate_pattern_only_touches_matches(
    backend_cache: BackendCache,
) -> None:
    cache = await backend_cache()
    for key in ("user:1", "user:2", "user:*", "order:1"):
        await cache.set(key, key, tenant_id="acme")
    await cache.set("user:1", "globex", tenant_id="globex")
    removed = await cache.invalidate_pattern("user:*", tenant_id="acme")
    assert removed == 3
    assert await cache.get("user:1", MISSING, tenant_id="acme") is MISSING
    assert await cache.get("user:*", MISSING, tenant_id="acme") is MISSING
    assert await cache.get("order:1", tenant_id="acme") == "order:1"
    assert await cache.get("user:1", tenant_id="globex") == "globex"
    # Glob characters inside the data are literals for '?' patterns of other keys.
    await cache.set("a*b", 1, tenant_id="acme")
    await cache.set("axb", 2, tenant_id="acme")
    assert await cache.invalidate_pattern("a?b", tenant_id="acme") == 2


async def test_namespace_and_tenant_invalidation(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    reader = await backend_cache()
    await cache.set("a", 1, tenant_id="acme", namespace="users")
    await cache.set("b", 2, tenant_id="acme", namespace="orders")
    await cache.set("a", 3, tenant_id="globex", namespace="users")
    await cache.invalidate_namespace("users", tenant_id="acme")
    assert await cache.get("a", MISSING, tenant_id="acme", namespace="users") is MISSING
    assert await cache.get("b", tenant_id="acme", namespace="orders") == 2
    assert await cache.get("a", tenant_id="globex", namespace="users") == 3
    await cache.flush_tenant("acme")
    assert await cache.get("b", MISSING, tenant_id="acme", namespace="orders") is MISSING
    assert await reader.get("b", MISSING, tenant_id="acme", namespace="orders") is MISSING
    assert await cache.get("a", tenant_id="globex", namespace="users") == 3
    await cache.set("b", 4, tenant_id="acme", namespace="orders")
    assert await cache.get("b", tenant_id="acme", namespace="orders") == 4


async def test_bad_input_is_refused_clearly(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    with pytest.raises(InvalidTenantIdError):
        await cache.set("k", 1, tenant_id=" padded ")
    with pytest.raises(CacheConfigurationError):
        await cache.set("k", 1, tenant_id="acme", namespace="")
    with pytest.raises(CacheConfigurationError):
        await cache.set(123, 1, tenant_id="acme")  # type: ignore[arg-type]
    with pytest.raises(CacheConfigurationError):
        await cache.set("k", 1, ttl=-1, tenant_id="acme")
    with pytest.raises(CacheConfigurationError):
        Cache("memory://", default_ttl=0)
    with pytest.raises(CacheConfigurationError):
        cache.configure("memory://", bogus_option=1)


async def test_disabled_cache_is_a_pass_through(backend_cache: BackendCache) -> None:
    cache = await backend_cache(enabled=False)
    calls = 0

    def factory() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await cache.set("k", 1, tenant_id="acme") is False
    assert await cache.get("k", MISSING, tenant_id="acme") is MISSING
    assert await cache.get_or_set("k", factory, tenant_id="acme") == 1
    assert await cache.get_or_set("k", factory, tenant_id="acme") == 2


async def test_stats_report_hit_rates_per_namespace(backend_cache: BackendCache) -> None:
    cache = await backend_cache()
    await cache.set("a", 1, tenant_id="acme", namespace="users")
    for _ in range(3):
        await cache.get("a", tenant_id="acme", namespace="users")
    await cache.get("missing", tenant_id="acme", namespace="users")
    stats = await cache.stats()
    users = stats.namespaces["users"]
    assert users.hits_l1 == 3
    assert users.misses == 1
    assert users.hit_rate == pytest.approx(0.75)
    assert stats.l1_entries == 1


async def test_reconfiguring_the_key_prefix_moves_known_namespaces_too(
    redis_url: str, key_prefix: str
) -> None:
    # Two prefixes of this test's own, removed at the end (the fixture cleans only key_prefix).
    first, second = key_prefix[:-1] + "a:", key_prefix[:-1] + "b:"
    cache = Cache(redis_url, key_prefix=first)
    raw = redis_asyncio.Redis.from_url(redis_url)
    try:
        await cache.set("user:1", {"v": 1}, tenant_id="acme")
        assert [k async for k in raw.scan_iter(match=f"{first}*user*")]
        await cache.close()
        cache.configure(redis_url, key_prefix=second)
        await cache.set("user:2", {"v": 2}, tenant_id="acme")
        assert await cache.get("user:2", tenant_id="acme") == {"v": 2}
        assert [k async for k in raw.scan_iter(match=f"{second}*user%3A2*")]
        assert not [k async for k in raw.scan_iter(match=f"{first}*user%3A2*")]
    finally:
        await cache.close()
        await raw.aclose()
        delete_redis_prefix(redis_url, first)
        delete_redis_prefix(redis_url, second)
