"""The L2 hit's ``GET`` without redis-py's command layer (`relaypoint_cache.backends.direct`):
the same bytes on the wire as redis-py's, the same answers, a connection the server dropped is
reopened once, and a cancelled call never leaves its reply behind for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from relaypoint_cache.backends.direct import DirectGet, pack_get
from tests.cache.conftest import MakeCache
from tests.support.services import RedisServer


@given(st.text(min_size=0, max_size=300))
def test_pack_get_writes_what_redis_py_writes(key: str) -> None:
    assert pack_get(key) == b"".join(Connection().pack_command("GET", key))


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_answers_as_client_get(client: redis_asyncio.Redis, key_prefix: str) -> None:
    direct = DirectGet(client.connection_pool, RedisConnectionError)
    values = {
        f"{key_prefix}plain": b"value",
        f"{key_prefix}ключ:é {{tag}}": "é€".encode(),
        f"{key_prefix}binary": bytes(range(256)) * 64,
        f"{key_prefix}empty": b"",
    }
    for key, value in values.items():
        await client.set(key, value)
    try:
        for key, value in values.items():
            assert await direct.get(key) == value == await client.get(key)
        assert await direct.get(f"{key_prefix}missing") is None
        assert direct.idle == 1  # one call at a time reuses one connection
    finally:
        await direct.close()
    assert direct.idle == 0


@pytest.mark.redis
async def test_concurrent_calls_each_get_their_own_answer(
    client: redis_asyncio.Redis, key_prefix: str
) -> None:
    direct = DirectGet(client.connection_pool, RedisConnectionError)
    for i in range(50):
        await client.set(f"{key_prefix}{i}", str(i))
    try:
        answers = await asyncio.gather(*(direct.get(f"{key_prefix}{i}") for i in range(50)))
        assert answers == [str(i).encode() for i in range(50)]
        assert 1 <= direct.idle <= 50
    finally:
        await direct.close()


@pytest.fixture
async def private_client(redis_server: RedisServer) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_a_connection_the_server_closed_is_reopened_once(
    private_client: redis_asyncio.Redis,
) -> None:
    direct = DirectGet(private_client.connection_pool, RedisConnectionError)
    await private_client.set("k", "v")
    try:
        assert await direct.get("k") == b"v"
        # Every other connection (the idle one of `direct`) is closed, as a restart would.
        assert await private_client.client_kill_filter(_type="normal", skipme=True) >= 1
        assert await direct.get("k") == b"v"
        assert await direct.get("k") == b"v"
    finally:
        await direct.close()


@pytest.mark.redis
async def test_a_fresh_connection_that_fails_raises(redis_server: RedisServer) -> None:
    client = redis_asyncio.Redis.from_url(redis_server.url, socket_connect_timeout=1)
    direct = DirectGet(client.connection_pool, RedisConnectionError)
    redis_server.kill()
    try:
        with pytest.raises(RedisConnectionError):
            await direct.get("k")
    finally:
        await direct.close()
        await client.aclose()


@pytest.mark.redis
async def test_a_cancelled_get_leaves_no_reply_for_the_next_call(
    redis_server: RedisServer, private_client: redis_asyncio.Redis
) -> None:
    direct = DirectGet(private_client.connection_pool, RedisConnectionError)
    await private_client.set("first", "1")
    await private_client.set("second", "2")
    try:
        assert await direct.get("second") == b"2"  # the connection is open and idle
        redis_server.pause()
        try:
            task = asyncio.ensure_future(direct.get("first"))
            for _ in range(50):  # the GET is written, its reply cannot come while paused
                await asyncio.sleep(0)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            redis_server.resume()
        # The reply to "first" arrives now; the connection must not hand it to this call.
        assert await direct.get("second") == b"2"
        assert direct.idle == 1
    finally:
        await direct.close()


@pytest.mark.redis
async def test_the_cache_reads_l2_again_after_a_redis_restart(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache = make_cache(redis_server.url, key_prefix="direct:", l1_max_entries=0)
    assert await cache.wait_ready()
    await cache.set("k", "before", ttl=60, tenant_id="acme")
    assert await cache.get("k", tenant_id="acme") == "before"

    redis_server.restart()  # no persistence: the entry is gone, every connection dead

    writer = make_cache(redis_server.url, key_prefix="direct:")
    await writer.set("k", "after", ttl=60, tenant_id="acme")
    assert await cache.get("k", tenant_id="acme") == "after"
