"""After a Redis restart, the shared client's stale pooled connections cost no failed command:
one is retried on a fresh connection, idle ones are health-checked (issue #12 item 5).

Each test starts its own redis-server, fills the client's pool, restarts the server on the same
port and checks that the first commands after the restart succeed, for the raw client and for
the stores that use it (auth tokens, rate-limit windows, cache entries).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relaypoint_core.auth.stores import create_token_store
from relaypoint_core.redis_client import create_redis_client
from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import Identity, RateLimiter, TierSet
from tests.support.services import RedisServer

pytestmark = pytest.mark.redis


async def _fill_pool(client: Any, connections: int) -> None:
    """Open ``connections`` pooled connections (concurrent blocking-free commands)."""
    await asyncio.gather(*(client.execute_command("CLIENT", "ID") for _ in range(connections)))


async def test_every_stale_pooled_connection_is_replaced_without_an_error(
    redis_server: RedisServer,
) -> None:
    client = create_redis_client(redis_server.url, component="test")
    try:
        await _fill_pool(client, 6)
        # The server is private to these tests, so every client it lists is one of our pool's.
        assert len(await client.client_list()) >= 2
        redis_server.restart()
        # Sequential commands draw the stale connections one by one: none may fail.
        answers = [await client.ping() for _ in range(8)]
        assert answers == [True] * 8
        assert await client.set("after-restart", b"1") is True
    finally:
        await client.aclose()


async def test_without_the_retry_a_stale_connection_fails_the_command(
    redis_server: RedisServer,
) -> None:
    """The failure the retry exists for: proves the test above exercises a stale connection."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = create_redis_client(
        redis_server.url, component="test", retry_on_connection_error=False, health_check_interval=0
    )
    try:
        await client.ping()
        redis_server.restart()
        with pytest.raises(RedisConnectionError):
            await client.ping()
    finally:
        await client.aclose()


async def test_the_token_store_answers_right_after_a_restart(
    redis_server: RedisServer, key_prefix: str
) -> None:
    store = create_token_store(redis_server.url, key_prefix=key_prefix, clock=FakeClock())
    try:
        await asyncio.gather(
            *(store.create_family("acme", f"f{i}", token_id=f"t{i}", ttl=60) for i in range(4))
        )
        redis_server.restart()
        for i in range(4):
            assert await store.is_revoked("acme", f"t{i}", None) is False
    finally:
        await store.aclose()


async def test_the_rate_limiter_counts_in_redis_right_after_a_restart(
    redis_server: RedisServer, key_prefix: str
) -> None:
    limiter = RateLimiter(
        redis_server.url,
        tiers=TierSet.from_mapping({"FREE": "100/minute"}),
        fault_policy="closed",
        key_prefix=key_prefix,
        memo_refusals=False,
    )
    await limiter.startup()
    try:
        await asyncio.gather(*(limiter.check(Identity(f"u{i}")) for i in range(4)))
        redis_server.restart()
        decisions = [await limiter.check(Identity(f"u{i}")) for i in range(4)]
        assert [d.source for d in decisions] == ["backend"] * 4
        assert all(d.allowed for d in decisions)
    finally:
        await limiter.aclose()
