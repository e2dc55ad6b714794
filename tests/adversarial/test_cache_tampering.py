"""Whoever can write to Redis cannot crash a cache reader or make it rebuild a class of their
choosing: an instance that reads a tampered entry misses (and counts it), then recomputes.

Two caches share one real Redis under a private prefix, as two app instances would; the reader's
L1 is empty, so every read below really decodes what Redis holds (issue #12 item 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypoint_cache import MISSING, Cache, JsonSerializer
from relaypoint_cache.envelope import pack_entry, unpack_entry
from tests.conftest import require_service
from tests.support.services import REDIS_URL, delete_redis_prefix

pytestmark = pytest.mark.redis

VALUE = {"name": "wf", "steps": [{"action": "echo", "input": "x"}], "run_count": 3}
FORGED_BODIES = [
    b"[" * 50_000 + b"]" * 50_000,
    b'{"__rp_type__":"model","c":"relaypoint_core.config:RelayPointSettings","v":{}}',
    b'{"__rp_type__":"uuid","v":[]}',
    b'{"__rp_type__":"decimal","v":"NaN-ish"}',
    b'{"__rp_type__":"bytes","v":"***"}',
]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require_service("redis")
    value = f"rpt{uuid.uuid4().hex[:12]}:"
    yield value
    delete_redis_prefix(REDIS_URL, value)


async def _stored_key(raw: redis_asyncio.Redis, prefix: str, key: str) -> bytes:
    keys = [k async for k in raw.scan_iter(match=f"{prefix}cache:*:{key}")]
    assert len(keys) == 1
    return bytes(keys[0])


async def _write_then_tamper(prefix: str, forge: bytes) -> tuple[Cache, str]:
    writer = Cache(REDIS_URL, key_prefix=prefix, op_timeout=2.0)
    key = uuid.uuid4().hex
    await writer.set(key, VALUE, tenant_id="acme")
    await writer.close()
    raw = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        redis_key = await _stored_key(raw, prefix, key)
        stored = await raw.get(redis_key)
        assert isinstance(stored, bytes)
        meta, _ = unpack_entry(JsonSerializer(), redis_key, stored)
        header = pack_entry(JsonSerializer(), redis_key, meta, 0)[:-1]
        await raw.set(redis_key, header + forge)
    finally:
        await raw.aclose()
    return Cache(REDIS_URL, key_prefix=prefix, op_timeout=2.0), key


@pytest.mark.parametrize("forge", FORGED_BODIES, ids=["deep", "settings", "uuid", "decimal", "b64"])
async def test_a_forged_entry_is_a_counted_miss_then_recomputed(prefix: str, forge: bytes) -> None:
    reader, key = await _write_then_tamper(prefix, forge)
    try:
        assert await reader.get(key, MISSING, tenant_id="acme") is MISSING
        assert (await reader.stats()).errors.get("serialization") == 1
        assert await reader.get_or_set(key, lambda: VALUE, tenant_id="acme") == VALUE
    finally:
        await reader.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(position=st.integers(min_value=0, max_value=400), byte=st.integers(0, 255))
def test_any_single_byte_change_never_raises_to_the_reader(
    prefix: str, position: int, byte: int
) -> None:
    async def run() -> None:
        writer = Cache(REDIS_URL, key_prefix=prefix, op_timeout=2.0)
        reader = Cache(REDIS_URL, key_prefix=prefix, op_timeout=2.0)
        raw = redis_asyncio.Redis.from_url(REDIS_URL)
        key = uuid.uuid4().hex
        try:
            await writer.set(key, VALUE, tenant_id="acme")
            redis_key = await _stored_key(raw, prefix, key)
            original = await raw.get(redis_key)
            assert isinstance(original, bytes)
            stored = bytearray(original)
            stored[position % len(stored)] = byte
            await raw.set(redis_key, bytes(stored))
            got = await reader.get(key, MISSING, tenant_id="acme")
            errors = (await reader.stats()).errors.get("serialization", 0)
            # Never raises; a refused entry is a miss counted once. (A miss without an error is
            # a tampered timestamp that reads as expired.)
            assert errors in (0, 1)
            if errors:
                assert got is MISSING
        finally:
            with contextlib.suppress(Exception):
                await raw.aclose()
            await writer.close()
            await reader.close()

    asyncio.run(run())
