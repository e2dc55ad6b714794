"""`SnapshotCache`: stale-while-revalidate bounded by ``ttl + stale_ttl``, single-flight loads,
changes made here never overwritten by an older load, bounded memory (fake clock, no sleeps)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import SnapshotCache
from relaypoint_tenancy.snapshots import MISS


class Source:
    """A loader whose answers change when told to, counting loads; ``gate`` holds loads."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False
        self.batches: list[list[str]] = []

    async def __call__(self, key: str) -> int | None:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("database down")
        return self.values.get(key)

    async def many(self, keys: Sequence[str]) -> dict[str, int | None]:
        """The batched loader: one load for every key."""
        self.batches.append(list(keys))
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("database down")
        return {key: self.values[key] for key in keys if key in self.values}


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_without_stale_ttl_an_expired_answer_is_loaded_on_the_read() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(source, ttl=5, negative_ttl=5, clock=clock)
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.values["a"] = 2
    clock.advance(4.9)
    assert await cache.get("a") == 1  # fresh: no load
    assert source.loads == 1
    clock.advance(0.2)
    assert await cache.get("a") == 2  # expired: this read waited for the load
    assert source.loads == 2


async def test_stale_answer_is_served_while_one_background_refresh_runs() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=60, clock=clock
    )
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.values["a"] = 2
    source.gate = asyncio.Event()
    clock.advance(6)
    # Many reads while the refresh is held: all get the old answer at once, one load runs.
    assert [await cache.get("a") for _ in range(20)] == [1] * 20
    await _settle()
    assert source.loads == 2
    assert cache.background_refreshes == 1
    source.gate.set()
    await _settle()
    assert await cache.get("a") == 2
    assert source.loads == 2


async def test_get_nowait_answers_what_needs_no_wait_and_starts_the_same_refresh() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=10, clock=clock
    )
    source.values["a"] = 1
    assert cache.get_nowait("a") is MISS  # never loaded: only get can answer
    assert source.loads == 0
    assert await cache.get("a") == 1
    assert await cache.get("nobody") is None
    assert cache.get_nowait("a") == 1
    assert cache.get_nowait("nobody") is None  # a remembered "not found" is an answer too
    source.values["a"] = 2
    clock.advance(6)
    assert cache.get_nowait("a") == 1  # stale: served, one background refresh started
    assert cache.get_nowait("a") == 1
    assert cache.background_refreshes == 1  # two stale reads, one refresh
    await _settle()
    assert cache.get_nowait("a") == 2
    clock.advance(16)
    assert cache.get_nowait("a") is MISS  # too old to serve: the read must load it
    assert cache.get_nowait("nobody") is MISS
    assert source.loads == 3  # get_nowait itself never waits for a load


async def test_an_answer_older_than_ttl_plus_stale_ttl_is_loaded_on_the_read() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=10, clock=clock
    )
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.values["a"] = 2
    clock.advance(15.1)
    assert await cache.get("a") == 2


async def test_negative_answers_are_revalidated_in_the_background_too() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=2, stale_ttl=30, clock=clock
    )
    assert await cache.get("new") is None
    source.values["new"] = 7
    clock.advance(3)
    assert await cache.get("new") is None  # stale "not found", refresh started
    await _settle()
    assert await cache.get("new") == 7


async def test_concurrent_reads_of_a_missing_key_share_one_load() -> None:
    source = Source()
    source.values["a"] = 1
    source.gate = asyncio.Event()
    cache: SnapshotCache[str, int] = SnapshotCache(source, ttl=5, negative_ttl=5)
    reads = [asyncio.create_task(cache.get("a")) for _ in range(50)]
    await _settle()
    source.gate.set()
    assert await asyncio.gather(*reads) == [1] * 50
    assert source.loads == 1


async def test_a_failed_refresh_keeps_the_stale_answer_until_it_is_too_old() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=10, clock=clock
    )
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.fail = True
    clock.advance(6)
    assert await cache.get("a") == 1
    await _settle()
    assert await cache.get("a") == 1  # the refresh failed: still the stale answer, retried
    await _settle()
    clock.advance(10)
    with pytest.raises(ConnectionError):
        await cache.get("a")


async def test_a_change_made_here_wins_over_a_refresh_already_running() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=60, clock=clock
    )
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.gate = asyncio.Event()
    clock.advance(6)
    assert await cache.get("a") == 1  # refresh starts, will read the old row
    cache.put("a", 3)  # this process changed it meanwhile
    source.gate.set()
    await _settle()
    assert await cache.get("a") == 3


async def test_aclose_cancels_refreshes_in_flight() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=60, clock=clock
    )
    source.values["a"] = 1
    assert await cache.get("a") == 1
    source.gate = asyncio.Event()
    clock.advance(6)
    await cache.get("a")
    await _settle()
    await cache.aclose()
    assert await cache.get("a") == 1  # still the stale answer; a new refresh may start


async def test_refreshes_falling_due_together_are_one_batched_load() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=10, negative_ttl=10, stale_ttl=60, clock=clock, load_many=source.many
    )
    source.values.update(a=1, b=1, c=1, d=1)
    for key in "abc":
        assert await cache.get(key) == 1
        clock.advance(3)  # loaded at 0, 3 and 6: they would expire apart
    assert await cache.get("d") == 1  # loaded at 9
    assert source.batches == []  # misses are single loads
    source.values.update(a=2, b=2, c=2, d=2)
    clock.advance(2)  # now 11: "a" is stale, "b" (8 old) and "c" (5 old) are past half the ttl
    assert cache.get_nowait("a") == 1
    assert cache.get_nowait("a") == 1  # one refresh per key
    await _settle()
    assert source.batches == [["a", "b", "c"]]  # "d" (2 old) did not join
    assert [cache.get_nowait(k) for k in "abcd"] == [2, 2, 2, 1]
    source.values.update(a=3, b=3, c=3, d=3)
    clock.advance(10)  # a, b, c stale together, d past half its ttl
    assert [cache.get_nowait(k) for k in "abc"] == [2, 2, 2]
    await _settle()
    assert source.batches[1:] == [["a", "b", "c", "d"]]  # one load for the four, now in phase
    assert [cache.get_nowait(k) for k in "abcd"] == [3, 3, 3, 3]


async def test_a_failed_batch_keeps_the_stale_answers_and_a_put_wins_over_a_batch() -> None:
    clock, source = FakeClock(), Source()
    cache: SnapshotCache[str, int] = SnapshotCache(
        source, ttl=5, negative_ttl=5, stale_ttl=20, clock=clock, load_many=source.many
    )
    source.values.update(a=1, b=1)
    assert [await cache.get("a"), await cache.get("b")] == [1, 1]
    source.values.update(a=2, b=2)
    source.fail = True
    clock.advance(6)
    assert cache.get_nowait("a") == 1
    await _settle()
    assert [cache.get_nowait("a"), cache.get_nowait("b")] == [1, 1]  # retried by the next read
    source.fail = False
    source.gate = asyncio.Event()
    assert cache.get_nowait("a") == 1
    await _settle()
    cache.put("b", 9)  # a change made here while the batch is held
    source.gate.set()
    await _settle()
    assert [cache.get_nowait("a"), cache.get_nowait("b")] == [1, 9]  # the whole batch dropped
    clock.advance(30)
    assert cache.get_nowait("a") is MISS
    assert await cache.get("a") == 2
    source.gate = asyncio.Event()
    clock.advance(6)
    assert cache.get_nowait("a") == 2
    await _settle()
    await cache.aclose()  # cancels the held batch; later refreshes still run
    source.gate.set()
    source.values["a"] = 3
    assert cache.get_nowait("a") == 2
    await _settle()
    assert cache.get_nowait("a") == 3


def test_bad_bounds_are_refused() -> None:
    async def load(key: str) -> int | None:
        return None

    with pytest.raises(ValueError, match="stale_ttl"):
        SnapshotCache(load, ttl=1, negative_ttl=1, stale_ttl=-1)
    with pytest.raises(ValueError, match="size"):
        SnapshotCache(load, ttl=1, negative_ttl=1, size=0)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["get", "peek", "change", "advance", "put", "forget", "settle"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.floats(min_value=0, max_value=8),
        ),
        max_size=60,
    ),
    batched=st.booleans(),
)
def test_no_answer_is_older_than_ttl_plus_stale_ttl_and_memory_stays_bounded(
    steps: list[tuple[str, str, float]], batched: bool
) -> None:
    """Whatever the order of reads, changes and time: a read returns a value the source held
    within the last ``ttl + stale_ttl`` seconds (or one put here since), at most one load per
    key is in flight, and the cache never holds more than its sizes."""

    async def run() -> None:
        clock, source = FakeClock(), Source()
        ttl, stale = 2.0, 5.0
        cache: SnapshotCache[str, int] = SnapshotCache(
            source,
            ttl=ttl,
            negative_ttl=1.0,
            stale_ttl=stale,
            size=2,
            negative_size=2,
            clock=clock,
            load_many=source.many if batched else None,
        )
        history: dict[str, list[tuple[float, int | None]]] = {}  # (since, value) per key
        version = 0

        def set_value(key: str, value: int | None) -> None:
            if value is None:
                source.values.pop(key, None)
            else:
                source.values[key] = value
            history.setdefault(key, []).append((clock.monotonic(), value))

        for action, key, amount in steps:
            if action in ("get", "peek"):
                # get_nowait answers by the same rules without waiting, or says MISS.
                got = await cache.get(key) if action == "get" else cache.get_nowait(key)
                if got is MISS:
                    continue
                values = history.get(key, [(0.0, None)])
                allowed = {
                    value
                    for i, (since, value) in enumerate(values)
                    if i + 1 == len(values)
                    or values[i + 1][0] > clock.monotonic() - ttl - stale - 1e-9
                } | ({None} if values[0][0] > clock.monotonic() - ttl - stale - 1e-9 else set())
                assert got in allowed
            elif action == "change":
                version += 1
                set_value(key, version)
            elif action == "put":
                version += 1
                set_value(key, version)
                cache.put(key, version)
            elif action == "forget":
                cache.forget(key)
            elif action == "advance":
                clock.advance(amount)
            else:
                await _settle()
            assert len(cache) <= 4
        await cache.aclose()

    asyncio.run(run())


def test_a_load_abandoned_by_a_stopped_event_loop_does_not_block_the_next_loop() -> None:
    source = Source()
    source.values["a"] = 1
    cache: SnapshotCache[str, int] = SnapshotCache(source, ttl=5, negative_ttl=5)

    async def abandon() -> None:
        source.gate = asyncio.Event()  # never set on this loop: the load stays in flight
        read = asyncio.ensure_future(cache.get("a"))
        await _settle()
        read.cancel()

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(abandon())
    finally:
        first.close()
    source.gate = None
    assert asyncio.run(cache.get("a")) == 1
    # The abandoned load is closed by the garbage collector outside any loop: its cleanup must
    # not raise (pytest's error filter would turn that "Exception ignored" into a failure of
    # whichever test happens to be running when the collector runs).
    del first
    unraisable: list[object] = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert unraisable == []
