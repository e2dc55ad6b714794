"""Redis killed mid-load and restarted: no caller sees an exception, results stay correct, the
cache goes back to L2 once Redis is back; a circuit breaker keeps a dead Redis off the hot path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as redis_asyncio

from relaypoint_cache import MISSING
from relaypoint_core.testing import FakeClock
from tests.cache.conftest import MakeCache
from tests.support.services import RedisServer


async def _until(condition: Callable[[], bool], what: str, *, seconds: float = 30) -> None:
    """Wait for something outside the process (a Redis server dying or coming back)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        await asyncio.sleep(0.01)  # polls a real server's state; bounded by the deadline above


async def test_redis_killed_mid_load_and_restarted(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    # Cooldowns and L1 expiry run on a fake clock the load advances: 0.01 s per call, so an L1
    # copy (l1_ttl 0.05) lasts a few calls and the open circuit (reset 0.2) half-opens every
    # twenty. Only the phases wait on real events: Redis dying, Redis coming back.
    clock = FakeClock()
    options = {
        "key_prefix": "fault:",
        "op_timeout": 0.2,
        "circuit_failure_threshold": 2,
        "circuit_reset_timeout": 0.2,
        "l1_ttl": 0.05,  # L1 copies expire quickly, so L2 is asked all the time
    }
    cache = make_cache(redis_server.url, clock=clock, **options)
    assert await cache.wait_ready()
    computed: dict[str, int] = {}

    async def factory_for(key: str) -> str:
        computed[key] = computed.get(key, 0) + 1
        await asyncio.sleep(0)  # a factory that yields, so concurrent callers overlap
        return f"value-of-{key}"

    errors: list[BaseException] = []
    wrong: list[tuple[str, object]] = []
    stop = asyncio.Event()
    calls = 0

    async def load(worker: int) -> None:
        nonlocal calls
        i = 0
        while not stop.is_set():
            key = f"k{(worker * 7 + i) % 20}"
            i += 1
            try:
                value = await cache.get_or_set(
                    key, lambda k=key: factory_for(k), ttl=30, tenant_id="acme"
                )
                if value != f"value-of-{key}":
                    wrong.append((key, value))
                await cache.set(f"w{worker}", i, tenant_id="acme")
                seen = await cache.get(f"w{worker}", MISSING, tenant_id="acme")
                if seen not in (i, MISSING):
                    wrong.append((f"w{worker}", seen))
            except BaseException as exc:  # the policy says: nothing reaches the caller
                errors.append(exc)
            calls += 1
            clock.advance(0.01)
            await asyncio.sleep(0)  # let the other workers and the phase driver run

    async def run_calls(count: int) -> None:
        target = calls + count
        await _until(lambda: calls >= target, f"{count} more calls")

    workers = [asyncio.create_task(load(n)) for n in range(8)]
    await run_calls(400)  # Redis up
    redis_server.kill()
    await _until(lambda: not cache.snapshot().subscribed, "the lost subscription noticed")
    await _until(lambda: cache.snapshot().circuit_state != "closed", "the circuit opening")
    await run_calls(400)  # Redis down: L1 and the factory serve, the circuit cycles
    stats_down = await cache.stats()
    redis_server.start()
    await _until(
        lambda: cache.snapshot().circuit_state == "closed" and cache.snapshot().subscribed,
        "the recovery",
    )
    await run_calls(400)  # Redis back
    stop.set()
    await asyncio.gather(*workers)

    assert errors == []
    assert wrong == []
    assert stats_down.errors.get("l2", 0) > 0
    assert stats_down.circuit_state in {"open", "half_open"}
    # The listener noticed the lost subscription (and flushed L1, see _listen).
    assert not stats_down.subscribed
    assert stats_down.errors.get("subscription", 0) >= 1

    # Back to normal: L2 is written and read again after recovery.
    assert await cache.wait_ready(wait=10)
    await cache.set("after", "recovered", tenant_id="acme")
    raw = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        keys = [k async for k in raw.scan_iter(match="fault:cache:*:after")]
        assert len(keys) == 1
    finally:
        await raw.aclose()
    fresh = make_cache(redis_server.url, clock=clock, **options)
    assert await fresh.get("after", tenant_id="acme") == "recovered"
    assert (await fresh.stats()).namespaces["default"].hits_l2 == 1
    assert (await cache.stats()).circuit_state == "closed"


async def test_unreachable_redis_costs_no_time_once_the_circuit_is_open(
    make_cache: MakeCache,
) -> None:
    from tests.support.services import free_port

    cache = make_cache(
        f"redis://127.0.0.1:{free_port()}/0",
        op_timeout=0.2,
        circuit_failure_threshold=1,
        circuit_reset_timeout=60,
    )
    calls = 0

    def factory() -> str:
        nonlocal calls
        calls += 1
        return "v"

    assert await cache.get_or_set("k", factory, tenant_id="acme") == "v"
    assert await cache.get("k", tenant_id="acme") == "v"  # served by L1
    failures_when_opened = (await cache.stats()).errors.get("l2", 0)
    for i in range(50):
        assert await cache.get_or_set(f"other{i}", factory, tenant_id="acme") == "v"
    stats = await cache.stats()
    # Fifty misses with the circuit open: Redis was not even tried (no timeout paid per call).
    assert stats.errors.get("l2", 0) == failures_when_opened
    assert stats.circuit_state == "open"
    assert calls == 51


async def test_lost_subscription_flushes_l1(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache = make_cache(redis_server.url, key_prefix="lost:", op_timeout=0.2)
    assert await cache.wait_ready()
    for i in range(10):
        await cache.set(f"k{i}", i, tenant_id="acme")
    assert (await cache.stats()).l1_entries == 10
    redis_server.kill()
    for _ in range(500):
        if not (await cache.stats()).subscribed:
            break
        await asyncio.sleep(0.01)  # waits for the killed server's socket to close
    stats = await cache.stats()
    assert not stats.subscribed
    # Invalidation notices may be lost from now on, so nothing L1 held is trusted any more.
    assert stats.l1_entries == 0
    assert await cache.get("k1", MISSING, tenant_id="acme") is MISSING
    redis_server.start()
    assert await cache.wait_ready(wait=10)
