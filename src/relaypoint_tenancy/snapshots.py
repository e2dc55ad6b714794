"""`SnapshotCache`: bounded positive and negative caches that refresh in the background.

The tenant directory and the resolver keep small snapshots (a tenant's row, "no tenant has this
domain") that change a few times in a tenant's life but are read on every request. This cache
keeps each answer ``ttl`` seconds (``negative_ttl`` for "not found"), and then:

* with ``stale_ttl=0`` (the default) an expired answer is dropped and the next read loads it
  again, waiting for the load, which is the classic TTL cache;
* with ``stale_ttl > 0`` an expired answer is still served for up to ``stale_ttl`` more seconds
  while **one** background task reloads it (stale-while-revalidate), so a steady stream of
  requests never waits for the database; an answer older than ``ttl + stale_ttl`` is loaded
  again on the read, as if it had never been cached.

Loads are single-flight either way: concurrent reads of a missing key share one load, and an
expired key has at most one refresh in flight. A failed background refresh keeps the stale answer
(it is retried by the next read) until the answer is too old to serve, when the read's own load
raises. ``put``, ``forget`` and ``clear`` win over a refresh that was already running (its result
is dropped), so a change this process made is never overwritten by an older read.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Final, Generic, Literal, TypeVar

from relaypoint_core.clock import Clock, system_clock

__all__ = ["MISS", "Miss", "SnapshotCache"]

logger = logging.getLogger("relaypoint.tenancy")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Miss(enum.Enum):
    """The type of `MISS`."""

    MISS = "miss"


MISS: Final = Miss.MISS
"""What `SnapshotCache.get_nowait` answers when only a load (awaited) can answer."""


class SnapshotCache(Generic[K, V]):
    """Found and not-found answers of ``load``, bounded, with optional stale-while-revalidate.

    Args:
        load: Loads one key; returns ``None`` when nothing exists for it.
        ttl: Seconds a found answer is fresh.
        negative_ttl: Seconds a not-found answer is fresh.
        stale_ttl: Seconds after expiry an answer is still served while a background task
            reloads it (0: never serve an expired answer).
        size: Most found answers kept (least recently stored dropped first).
        negative_size: Most not-found answers kept.
        clock: The clock answers expire by.
        load_many: Loads several keys at once (a key missing from its answer has nothing); when
            given, background refreshes that fall due in the same turn of the event loop are
            one call, joined by every found answer past half its ``ttl`` (at most
            ``batch_size`` keys), so answers loaded together expire, and refresh, together.
        batch_size: Most keys one ``load_many`` call is given.

    Raises:
        ValueError: A ttl is negative or a size is below 1.
    """

    def __init__(
        self,
        load: Callable[[K], Awaitable[V | None]],
        *,
        ttl: float,
        negative_ttl: float,
        stale_ttl: float = 0.0,
        size: int = 10_000,
        negative_size: int = 10_000,
        clock: Clock = system_clock,
        load_many: Callable[[Sequence[K]], Awaitable[Mapping[K, V | None]]] | None = None,
        batch_size: int = 100,
    ) -> None:
        if min(ttl, negative_ttl, stale_ttl) < 0:
            raise ValueError("ttl, negative_ttl and stale_ttl must be at least 0")
        if min(size, negative_size, batch_size) < 1:
            raise ValueError("size, negative_size and batch_size must be at least 1")
        self._load = load
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.stale_ttl = stale_ttl
        self._size = size
        self._negative_size = negative_size
        self._clock = clock
        self._found: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._missing: OrderedDict[K, float] = OrderedDict()
        self._flights: dict[K, asyncio.Future[V | None]] = {}
        self._load_many = load_many
        self._batch_size = batch_size
        self._due: dict[K, asyncio.Future[V | None]] = {}  # refreshes of the next batch
        self._batches: set[asyncio.Task[None]] = set()
        self._epoch = 0
        self.loads = 0
        self.background_refreshes = 0

    def __len__(self) -> int:
        return len(self._found) + len(self._missing)

    async def get(self, key: K) -> V | None:
        """The answer for ``key``: cached, stale while a refresh runs, or loaded now.

        Args:
            key: The key.

        Returns:
            The value, or ``None`` when nothing exists for ``key``.
        """
        answer = self.get_nowait(key)
        if answer is MISS:
            return await asyncio.shield(self._flight(key))
        return answer

    def get_nowait(self, key: K) -> V | Literal[Miss.MISS] | None:
        """The answer for ``key`` if it needs no waiting, else `MISS` (then `get` loads it).

        The same rules as `get` (a stale answer starts its background refresh), without a
        coroutine: the hot path of a cached read.

        Args:
            key: The key.

        Returns:
            The value, ``None`` when nothing exists for ``key``, or `MISS`.
        """
        now = self._clock.monotonic()
        found = self._found.get(key)
        if found is not None:
            age = now - found[1]
            if age < self.ttl:
                return found[0]
            if age < self.ttl + self.stale_ttl:
                self._refresh_in_background(key)
                return found[0]
            return MISS
        missing = self._missing.get(key)
        if missing is not None:
            age = now - missing
            if age < self.negative_ttl:
                return None
            if age < self.negative_ttl + self.stale_ttl:
                self._refresh_in_background(key)
                return None
        return MISS

    def put(self, key: K, value: V) -> None:
        """Store ``value`` as the fresh answer for ``key`` (after this process changed it).

        Args:
            key: The key.
            value: The fresh value.
        """
        self._epoch += 1
        self._store(key, value)

    def remember(self, key: K, value: V) -> None:
        """Store an answer a load learned along the way (a tenant found by id is also its slug's
        answer); unlike `put`, refreshes already running are still stored.

        Args:
            key: The key.
            value: The value, as fresh as the load that found it.
        """
        self._store(key, value)

    def forget(self, key: K) -> V | None:
        """Drop the answer for ``key``; a refresh already running for it is not stored.

        Args:
            key: The key.

        Returns:
            The found value that was dropped, if any.
        """
        self._epoch += 1
        self._missing.pop(key, None)
        found = self._found.pop(key, None)
        return None if found is None else found[0]

    def clear(self) -> None:
        """Drop every answer; refreshes already running are not stored."""
        self._epoch += 1
        self._found.clear()
        self._missing.clear()

    async def settle(self) -> None:
        """Wait until no load is in flight (their outcomes are stored, or dropped, as usual)."""
        loop = asyncio.get_running_loop()
        while True:
            running: list[asyncio.Future[Any]] = [*self._flights.values(), *self._batches]
            flights = [f for f in running if f.get_loop() is loop]
            if not flights:
                return
            await asyncio.gather(*flights, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the loads in flight (at shutdown, before the engine is disposed)."""
        flights: list[asyncio.Future[Any]] = [*self._flights.values(), *self._batches]
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)  # cancelled or failed: dropped

    # --- internals ------------------------------------------------------------------------------

    def _store(self, key: K, value: V | None) -> None:
        now = self._clock.monotonic()
        if value is None:
            self._found.pop(key, None)
            self._missing[key] = now
            self._missing.move_to_end(key)
            while len(self._missing) > self._negative_size:
                self._missing.popitem(last=False)
        else:
            self._missing.pop(key, None)
            self._found[key] = (value, now)
            self._found.move_to_end(key)
            while len(self._found) > self._size:
                self._found.popitem(last=False)

    def _flight(self, key: K) -> asyncio.Future[V | None]:
        loop = asyncio.get_running_loop()
        task = self._flights.get(key)
        # A load left behind by an event loop that stopped mid-load (a test client's loop) can
        # never finish: this loop starts its own.
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._run(key, self._epoch))
            self._flights[key] = task
        return task

    async def _run(self, key: K, epoch: int) -> V | None:
        try:
            self.loads += 1
            value = await self._load(key)
            if epoch == self._epoch:  # nothing was put, forgotten or cleared meanwhile
                self._store(key, value)
            return value
        finally:
            # No loop runs when the garbage collector closes a load that a stopped loop left
            # pending (a test client's thread, say): there is no current task to compare then.
            with contextlib.suppress(RuntimeError):
                if self._flights.get(key) is asyncio.current_task():
                    del self._flights[key]

    def _refresh_in_background(self, key: K) -> None:
        if key in self._flights:
            return
        self.background_refreshes += 1
        if self._load_many is None:
            self._flight(key).add_done_callback(_log_failure)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        future.add_done_callback(_retrieved)  # a failed batch is logged once, by the batch
        self._flights[key] = future
        self._due[key] = future
        if len(self._due) == 1:  # the first refresh due in this turn schedules the batch
            batch = loop.create_task(self._run_batch(self._epoch))
            self._batches.add(batch)
            batch.add_done_callback(self._batches.discard)

    async def _run_batch(self, epoch: int) -> None:
        due: dict[K, asyncio.Future[V | None]] = {}
        try:
            try:
                await asyncio.sleep(0)  # the refreshes falling due in this turn join in
            finally:
                due, self._due = self._due, {}
            self._add_riders(due)
            await self._load_batch(due, epoch)
        finally:
            for key, future in due.items():
                if self._flights.get(key) is future:
                    del self._flights[key]
                if not future.done() and not future.get_loop().is_closed():
                    future.cancel()

    def _add_riders(self, due: dict[K, asyncio.Future[V | None]]) -> None:
        """Found answers past half their ttl join the batch (the oldest are stored first)."""
        loop = asyncio.get_running_loop()
        threshold = self._clock.monotonic() - self.ttl / 2
        for key, (_, stored) in self._found.items():
            if len(due) >= self._batch_size or stored > threshold:
                break
            if key not in self._flights:
                future: asyncio.Future[V | None] = loop.create_future()
                future.add_done_callback(_retrieved)
                self._flights[key] = due[key] = future

    async def _load_batch(self, due: dict[K, asyncio.Future[V | None]], epoch: int) -> None:
        assert self._load_many is not None
        keys = list(due)
        self.loads += 1
        try:
            values = await self._load_many(keys)
        except Exception as error:  # the stale answers stay; the next reads retry
            logger.warning("background refresh of %d tenant snapshots failed: %r", len(keys), error)
            for future in due.values():
                future.set_exception(error)
            return
        for key, future in due.items():
            value = values.get(key)
            if epoch == self._epoch:  # nothing was put, forgotten or cleared meanwhile
                self._store(key, value)
            future.set_result(value)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.warning("background refresh of a tenant snapshot failed: %r", error)
