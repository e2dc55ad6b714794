"""The Redis counter hash's layout (``window.lua``): bucket fields plus a running total ``t``
(field ``-1``) and the oldest bucket ``o`` (field ``-2``). A hash of the previous layout (buckets only) is read right and upgraded in
place; after any sequence of checks, settles and quota calls the aggregates equal the buckets; a
steady-state check makes O(1) hash commands per window (counted by a private server's ``INFO
commandstats``), whatever the number of buckets."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypoint_ratelimit.backends.base import (
    BackendRequest,
    CounterSpec,
    QuotaRequest,
    QuotaReturn,
    SettleRequest,
)
from relaypoint_ratelimit.backends.redis import RedisBackend
from tests.support.services import RedisServer

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
HASH_COMMANDS = ("hget", "hmget", "hset", "hincrby", "hgetall", "hdel", "pexpire")


AGGREGATES = {b"-1": b"t", b"-2": b"o"}  # field -> its name in window.lua


async def _hash(client: Any, key: str) -> tuple[dict[int, int], dict[bytes, int]]:
    """The bucket fields and the aggregate fields (by name: ``t``, ``o``) of one counter hash."""
    raw = await client.hgetall(key)
    buckets = {int(k): int(v) for k, v in raw.items() if k not in AGGREGATES}
    return buckets, {AGGREGATES[k]: int(v) for k, v in raw.items() if k in AGGREGATES}


async def _server_bucket(client: Any, bucket_us: int) -> int:
    seconds, micros = await client.time()
    return (seconds * 1_000_000 + micros) // bucket_us


async def _stats(client: Any) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in HASH_COMMANDS}


def test_a_hash_of_the_previous_layout_is_read_and_upgraded_in_place(
    redis_url: str, key_prefix: str
) -> None:
    key = f"{key_prefix}legacy"

    async def run() -> None:
        backend = RedisBackend(redis_url)
        await backend.startup()
        client = backend.client
        cur = await _server_bucket(client, HOUR_US)  # a day window of hour buckets: low = cur - 24
        await client.hset(key, mapping={cur - 30: 7, cur - 24: 5, cur - 3: 2, cur: 1})
        spec = CounterSpec(key, DAY_US, HOUR_US, 100, 1)
        peek = await backend.apply(BackendRequest((spec,), consume=False))
        assert list(peek.values) == [8, cur - 24, 0]  # the expired bucket is not counted
        assert b"-1" not in await client.hgetall(key)  # a peek writes nothing

        counted = await backend.apply(BackendRequest((spec,)))
        assert list(counted.values) == [9, cur - 24, 0]
        buckets, aggregates = await _hash(client, key)
        assert buckets == {cur - 24: 5, cur - 3: 2, cur: 2}  # nothing lost, the expired one gone
        assert aggregates == {b"t": 9, b"o": cur - 24}

        again = await backend.apply(BackendRequest((spec,)))
        assert list(again.values) == [10, cur - 24, 0]
        assert (await _hash(client, key))[1] == {b"t": 10, b"o": cur - 24}

        # A refund on a hash of the previous layout keeps it consistent, and is counted after.
        await client.delete(key)
        await client.hset(key, mapping={cur - 5: 4, cur: 3})
        await backend.settle(SettleRequest(((key, DAY_US, HOUR_US, 100, cur - 5),), refund=4))
        peek = await backend.apply(BackendRequest((spec,), consume=False))
        assert list(peek.values) == [3, cur, 0]
        await backend.aclose()

    asyncio.run(run())


def test_a_script_of_the_previous_layout_meeting_the_aggregates_invalidates_them(
    redis_url: str, key_prefix: str
) -> None:
    """A rolling upgrade: a process still running the previous script (kept verbatim next to this
    test) takes the aggregates for expired buckets, counts nothing for them, and deletes them
    with its next count; the next check of the new layout then recomputes from the buckets, so
    what the old process counted is not lost."""
    key = f"{key_prefix}rolling"
    previous = (Path(__file__).parent / "previous_sliding_window.lua").read_text("utf-8")

    async def run() -> None:
        backend = RedisBackend(redis_url)
        await backend.startup()
        client = backend.client
        spec = CounterSpec(key, DAY_US, HOUR_US, 100, 2)
        assert (await backend.apply(BackendRequest((spec,)))).values[0] == 2
        assert (await _hash(client, key))[1] == {
            b"t": 2,
            b"o": (await _server_bucket(client, HOUR_US)),
        }
        args = ["p", "?", DAY_US, HOUR_US, 100, 3, 0]
        peek = await client.eval(previous, 2, key, key, *args)
        assert peek[3] == 2  # the old script reads the new hash right
        counted = await client.eval(previous, 2, key, key, "c", *args[1:])
        assert counted[0] == 0
        assert counted[3] == 5
        assert (await _hash(client, key))[1] == {}  # it deleted the aggregates
        again = await backend.apply(BackendRequest((spec,)))
        assert again.values[0] == 7  # nothing the old process counted is lost
        assert (await _hash(client, key))[1][b"t"] == 7
        await backend.aclose()

    asyncio.run(run())


ops = st.lists(
    st.one_of(
        st.tuples(st.just("check"), st.integers(0, 4), st.booleans()),
        st.tuples(st.just("settle"), st.integers(0, 5), st.integers(0, 5)),
        st.tuples(st.just("lease"), st.integers(1, 3), st.integers(0, 4)),
        st.tuples(st.just("return"), st.integers(0, 6), st.just(False)),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ops)
def test_the_aggregates_always_equal_the_buckets(
    redis_url: str, key_prefix: str, ops: list[tuple[str, int, Any]]
) -> None:
    """Buckets of a quarter and a half millisecond expire while the example runs (server time), so
    expiry, the oldest bucket's move and refunds that empty it all happen; after every call the
    hash's ``t`` is the sum of its buckets and ``o`` the smallest, and a peek reports exactly the
    live buckets."""
    run_id = uuid.uuid4().hex[:8]
    layouts = (
        (f"{key_prefix}{run_id}:a", 2_000, 250, 12),
        (f"{key_prefix}{run_id}:b", 1_000, 500, 9),
    )
    holders = f"{key_prefix}{run_id}:h"

    def specs(cost: int) -> tuple[CounterSpec, ...]:
        return tuple(CounterSpec(k, w, b, limit, cost) for k, w, b, limit in layouts)

    async def check_aggregates(backend: RedisBackend) -> None:
        client = backend.client
        hashes = [await _hash(client, k) for k, *_ in layouts]
        peek = await backend.apply(BackendRequest(specs(1), consume=False))
        for i, ((buckets, aggregates), (_, window, bucket, _)) in enumerate(
            zip(hashes, layouts, strict=True)
        ):
            if b"t" in aggregates:
                assert aggregates[b"t"] == sum(buckets.values())
            if b"o" in aggregates:
                assert aggregates[b"o"] == min(buckets)
            low = (peek.now_us - window) // bucket
            live = {index: n for index, n in buckets.items() if index >= low}
            assert peek.values[3 * i] == sum(live.values())
            assert peek.values[3 * i + 1] == (min(live) if live else -1)

    async def run() -> None:
        backend = RedisBackend(redis_url)
        await backend.startup()
        last: list[int] = [0, 0]  # bucket indexes of the last count in each window
        leased = 0
        for op, a, b in ops:
            if op == "check":
                result = await backend.apply(BackendRequest(specs(a), consume=b))
                if b and result.status == 0:
                    last = [result.now_us // bucket for _, _, bucket, _ in layouts]
            elif op == "settle":
                counters = tuple(
                    (k, w, bu, limit, last[i]) for i, (k, w, bu, limit) in enumerate(layouts)
                )
                await backend.settle(SettleRequest(counters, refund=a, extra=b))
            elif op == "lease":
                grant = await backend.lease_quota(
                    QuotaRequest(BackendRequest(specs(a)), holders, "me", max_slice=b, spread=1)
                )
                if grant.result.status == 0:
                    last = [grant.result.now_us // bucket for _, _, bucket, _ in layouts]
                    leased = grant.granted
            else:
                counters = tuple((k, w, bu, last[i]) for i, (k, w, bu, _) in enumerate(layouts))
                await backend.return_quota(QuotaReturn(holders, "me", min(a, leased), counters))
                leased = 0
            await check_aggregates(backend)
        await backend.delete([k for k, *_ in layouts] + [holders])
        await backend.aclose()

    asyncio.run(run())


def test_a_steady_check_makes_two_hash_commands_per_window_whatever_its_buckets(
    redis_server: RedisServer,
) -> None:
    """60 live buckets in one window cost what one does: HMGET t o <bucket> and one HSET per
    window, a PEXPIRE only when a bucket is created, never an HGETALL; when the oldest bucket
    leaves the window, one more HMGET (the expired run up to the first live bucket) and an HDEL."""
    layouts = ((60_000_000, 1_000_000), (HOUR_US, 60_000_000), (DAY_US, HOUR_US))
    checks = 40

    async def run() -> None:
        backend = RedisBackend(redis_server.url)
        await backend.startup()
        client = backend.client
        keys = [f"steady:{i}" for i in range(len(layouts))]
        cur = await _server_bucket(client, 1_000_000)
        # The previous layout with 50 live second buckets: read whole once, then never again.
        await client.hset(keys[0], mapping={cur - k: 1 for k in range(50)})
        request = BackendRequest(
            tuple(CounterSpec(k, w, b, 10**9, 1) for k, (w, b) in zip(keys, layouts, strict=True))
        )
        first = await backend.apply(request)
        assert first.values[0] == 51
        before = await _stats(client)
        seen = [{(first.now_us // b)} for _, b in layouts]
        for _ in range(checks):
            result = await backend.apply(request)
            assert result.status == 0
            for index, (_, b) in zip(seen, layouts, strict=True):
                index.add(result.now_us // b)
        delta = {k: v - before[k] for k, v in (await _stats(client)).items()}
        created = sum(len(s) - 1 for s in seen)  # buckets the steady checks opened
        assert delta == {
            "hget": 0,
            "hmget": checks * len(layouts),
            "hset": checks * len(layouts),
            "hincrby": 0,
            "hgetall": 0,
            "hdel": 0,
            "pexpire": created,
        }

        # The oldest bucket of an hour-bucket day window has left it; the next one is live.
        day = await _server_bucket(client, HOUR_US)
        await client.hset("moving", mapping={day - 25: 4, day - 24: 1, day: 2, -1: 7, -2: day - 25})
        before = await _stats(client)
        moved = await backend.apply(
            BackendRequest((CounterSpec("moving", DAY_US, HOUR_US, 99, 1),))
        )
        assert list(moved.values) == [4, day - 24, 0]
        delta = {k: v - before[k] for k, v in (await _stats(client)).items()}
        assert delta == {
            "hget": 0,
            "hmget": 2,
            "hset": 1,
            "hincrby": 0,
            "hgetall": 0,
            "hdel": 1,
            "pexpire": 0,
        }
        buckets, aggregates = await _hash(client, "moving")
        assert buckets == {day - 24: 1, day: 3}
        assert aggregates == {b"t": 4, b"o": day - 24}
        await backend.aclose()

    asyncio.run(run())
