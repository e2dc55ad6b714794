"""Hypothesis: no tenant id, namespace or key (``:``, ``*``, ``{``, unicode...) reaches another
tenant's entries, in key derivation, in L1 and on real Redis; invalidating one tenant leaves the
others alone."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from relaypoint_cache import MISSING, Cache
from relaypoint_cache.engine import l2_key
from relaypoint_core.keys import KeyScheme

NASTY = st.sampled_from(
    [":", "*", "?", "{", "}", "[", "]", "\\", "%", "=", "_", " ", "é", "☃", "𝄞"]
)
TEXT = st.text(alphabet=st.one_of(NASTY, st.characters(codec="utf-8")), min_size=1, max_size=24)
TENANTS = TEXT.filter(lambda t: t.strip() == t and t.isprintable())
KEYS = st.text(alphabet=st.one_of(NASTY, st.characters(codec="utf-8")), max_size=24)
NAMESPACES = st.one_of(st.just("default"), TENANTS)
VERSIONS = st.sampled_from(["0.0", "1.0", "0.1", "12.3"])


# Generating 500 filtered examples is slow on a loaded machine; that is no failure of the code.
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.tuples(st.one_of(st.none(), TENANTS), NAMESPACES, KEYS, VERSIONS),
    b=st.tuples(st.one_of(st.none(), TENANTS), NAMESPACES, KEYS, VERSIONS),
)
def test_distinct_entries_never_share_a_redis_key(
    a: tuple[str | None, str, str, str], b: tuple[str | None, str, str, str]
) -> None:
    assume(a != b)
    scheme = KeyScheme("cache", "rp:")
    key_a, key_b = l2_key(scheme, *a), l2_key(scheme, *b)
    assert key_a != key_b
    if a[0] != b[0]:
        # Different tenants also never share a hash-tag scope (or a tenant prefix).
        assert not key_a.startswith(scheme.tenant_prefix(b[0]))
        assert not key_b.startswith(scheme.tenant_prefix(a[0]))


async def _isolation_round(
    cache: Cache, tenant_a: str, tenant_b: str, key_a: str, key_b: str
) -> None:
    await cache.set(key_a, "a", tenant_id=tenant_a)
    await cache.set(key_b, "b", tenant_id=tenant_b)
    assert await cache.get(key_a, tenant_id=tenant_a) == "a"
    assert await cache.get(key_b, tenant_id=tenant_b) == "b"
    if key_a != key_b:
        assert await cache.get(key_a, MISSING, tenant_id=tenant_b) is MISSING
    # A pattern that matches everything in tenant A leaves tenant B alone ...
    await cache.invalidate_pattern("*", tenant_id=tenant_a)
    assert await cache.get(key_a, MISSING, tenant_id=tenant_a) is MISSING
    assert await cache.get(key_b, tenant_id=tenant_b) == "b"
    # ... and so does a patterned key named like tenant B's, and flushing tenant A.
    await cache.set(key_a, "a", tenant_id=tenant_a)
    await cache.invalidate_pattern(key_b or "*", tenant_id=tenant_a)
    await cache.flush_tenant(tenant_a)
    assert await cache.get(key_b, tenant_id=tenant_b) == "b"
    await cache.flush_tenant(tenant_b)


@settings(max_examples=100, deadline=None)
@given(tenant_a=TENANTS, tenant_b=TENANTS, key_a=KEYS, key_b=KEYS)
def test_l1_tenants_are_isolated(tenant_a: str, tenant_b: str, key_a: str, key_b: str) -> None:
    assume(tenant_a != tenant_b)

    async def run() -> None:
        cache = Cache("memory://")
        await _isolation_round(cache, tenant_a, tenant_b, key_a, key_b)

    asyncio.run(run())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tenant_a=TENANTS, tenant_b=TENANTS, key_a=KEYS, key_b=KEYS)
def test_redis_tenants_are_isolated(
    redis_url: str, key_prefix: str, tenant_a: str, tenant_b: str, key_a: str, key_b: str
) -> None:
    assume(tenant_a != tenant_b)

    async def run() -> None:
        # L1 off: every read is answered by Redis.
        cache = Cache(redis_url, key_prefix=key_prefix, l1_max_entries=0, op_timeout=2.0)
        try:
            await _isolation_round(cache, tenant_a, tenant_b, key_a, key_b)
        finally:
            await cache.close()

    asyncio.run(run())
