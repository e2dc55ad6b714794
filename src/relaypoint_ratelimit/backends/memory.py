"""The in-process backend: the same bucketed sliding window as the Redis script, in Python.

Each counter keeps a deque of ``[bucket_index, count]`` pairs (at most ``buckets + 1`` of them, so
memory per key does not grow with the limit) and their running total. ``apply`` never awaits, so
under asyncio a check-and-count is atomic without a lock. Time comes from the injected clock's
``monotonic()`` reading in integer microseconds. Not shared between processes: use Redis for that.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Sequence

from relaypoint_core.clock import Clock, system_clock
from relaypoint_ratelimit.backends.base import (
    ADMITTED,
    REFUSED,
    TIER_CHANGED,
    BackendRequest,
    BackendResult,
    CounterSpec,
    LeaseResult,
    SettleRequest,
    SettleResult,
)
from relaypoint_ratelimit.backends.memory_quota import MemoryQuota

__all__ = ["MemoryBackend"]

_SWEEP_EVERY = 1024
_monotonic_ns = time.monotonic_ns
_new_tuple = tuple.__new__


class _Counter:
    # fast_until: before this instant the newest bucket is still current and no bucket can have
    # left the window, so a check is a comparison and one increment, of `total` alone: the newest
    # bucket (`newest`) really holds `total - base`, and that is written into it (settled) before
    # anything reads the buckets. `oldest` is the index of the first bucket.
    __slots__ = (
        "base",
        "bucket_us",
        "buckets",
        "expires_us",
        "fast_until",
        "key",
        "newest",
        "oldest",
        "total",
        "window_us",
    )

    def __init__(self, key: str, window_us: int, bucket_us: int) -> None:
        self.key = key
        self.window_us = window_us
        self.bucket_us = bucket_us
        self.buckets: deque[list[int]] = deque()
        self.total = 0
        self.base = 0
        self.expires_us = 0
        self.fast_until = 0
        self.newest: list[int] = [0, 0]
        self.oldest = -1


def retry_at(
    buckets: Sequence[Sequence[int]],
    used: int,
    cost: int,
    limit: int,
    window_us: int,
    bucket_us: int,
) -> int:
    """Earliest µs at which ``cost`` fits, given live buckets in ascending order (-1: never)."""
    if cost > limit:
        return -1
    remaining_used = used
    for index, count in buckets:
        remaining_used -= count
        if remaining_used + cost <= limit:
            # Bucket `index` stops being counted once floor((t - window) / bucket) > index.
            return (index + 1) * bucket_us + window_us
    return 0


class MemoryBackend(MemoryQuota):
    """Counters and stored tiers in this process's memory (asyncio-safe, not thread-safe)."""

    name = "memory"
    remote = False

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        # The system clock's method only forwards to time.monotonic: read time.monotonic_ns
        # directly then (integer µs without a float product and an int() call).
        self._monotonic = clock.monotonic
        self._system = clock is system_clock
        self._counters: OrderedDict[str, _Counter] = OrderedDict()
        self._tiers: dict[str, str] = {}
        # Concurrency leases: key -> token -> expiry (µs of the injected clock).
        self._leases: dict[str, dict[str, int]] = {}
        self._ops = 0
        # Replaced whenever a tier is stored: requests' remembered counters
        # (BackendRequest.local_state) vouch for their tier check only in the epoch they were
        # saved in. A dropped counter gets fast_until 0, so no remembered request uses it again.
        self._epoch = object()

    async def startup(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def apply(self, request: BackendRequest) -> BackendResult:
        return self.apply_now(request)

    def apply_now(self, request: BackendRequest) -> BackendResult:
        """The synchronous core of ``apply`` (no await, hence atomic under asyncio)."""
        # _now_us, written out: this is the hot path of every check.
        now = _monotonic_ns() // 1000 if self._system else int(self._monotonic() * 1_000_000)
        state = request.local_state
        if state[0] is self._epoch:
            # The common case: this request was counted here before, nothing was dropped and no
            # tier was stored since (so its tier check still holds), and every one of its
            # counters is in its fast period and has room. Counted optimistically, in one pass;
            # undone if a counter turns out not to be.
            values: list[int] = []
            for c, room, cost in state[1]:
                total = c.total
                if (now >= c.fast_until and not self._roll(c, now)) or total > room:
                    self._undo(state[1], len(values) // 3)
                    break
                c.total = total = total + cost
                values += (total, c.oldest, 0)
            else:
                # tuple.__new__ directly: the named tuple's own __new__ is a Python-level hop.
                return _new_tuple(BackendResult, (ADMITTED, now, values, None))
        layout = state[2]
        if layout is None:
            layout = state[2] = (
                request.tier_check,
                tuple(
                    (c.key, c.window_us, c.bucket_us, c.limit, c.cost, c.shadow)
                    for c in request.counters
                ),
            )
        tier_key, plain = layout
        if tier_key is not None:
            stored = self._tiers.get(tier_key, "")
            if stored != request.expected_tier:
                return BackendResult(TIER_CHANGED, now, (), stored)
        counters = self._counters
        found: list[_Counter | None] = []
        refused = over_shadow = False
        for key, window_us, bucket_us, limit, cost, shadow in plain:
            counter = counters.get(key)
            if counter is not None:
                counter.newest[1] = counter.total - counter.base  # settle
                if now >= counter.fast_until:
                    buckets = counter.buckets
                    low = (now - window_us) // bucket_us
                    while buckets and buckets[0][0] < low:
                        counter.total -= buckets.popleft()[1]
                    # Expiry only takes from the left: `newest` is still the last bucket.
                    counter.base = counter.total - counter.newest[1] if buckets else 0
                over = counter.total + cost > limit
            else:
                over = cost > limit
            if over:
                if shadow:
                    over_shadow = True
                else:
                    refused = True
            found.append(counter)
        values = []
        if refused or not request.consume:
            for (_, window_us, bucket_us, limit, cost, _), counter in zip(
                plain, found, strict=True
            ):
                values += self._look(counter, window_us, bucket_us, limit, cost)
            return BackendResult(REFUSED if refused else ADMITTED, now, values)
        touched: list[tuple[_Counter, int, int]] = []
        for (key, window_us, bucket_us, limit, cost, shadow), counter in zip(
            plain, found, strict=True
        ):
            if shadow and over_shadow:
                looked = self._look(counter, window_us, bucket_us, limit, cost)
                if looked[2] != 0:  # this shadow counter would refuse: it does not count
                    values += looked
                    continue
            if counter is not None and now < counter.fast_until:
                touched.append((counter, limit - cost, cost))
                counter.total += cost
                values += (counter.total, counter.oldest, 0)
                continue
            index = now // bucket_us
            if counter is None:
                counter = counters[key] = _Counter(key, window_us, bucket_us)
                counter.buckets.append([index, cost])
            else:
                counters.move_to_end(key)
                buckets = counter.buckets
                if buckets and buckets[-1][0] >= index:
                    buckets[-1][1] += cost
                else:
                    buckets.append([index, cost])
            counter.total += cost
            oldest = counter.oldest = counter.buckets[0][0]
            newest = counter.newest = counter.buckets[-1]
            counter.base = counter.total - newest[1]
            counter.expires_us = max(counter.expires_us, (index + 1) * bucket_us + window_us)
            counter.fast_until = min((index + 1) * bucket_us, (oldest + 1) * bucket_us + window_us)
            values += (counter.total, oldest, 0)
            touched.append((counter, limit - cost, cost))
        # A request with a shadow counter left out is not remembered: its next check re-reads all.
        state[0] = None if over_shadow else self._epoch
        state[1] = tuple(touched)
        # Only this path creates counters and buckets, so only it paces the sweep.
        self._ops += 1
        if self._ops >= _SWEEP_EVERY:
            self._sweep(now)
        return BackendResult(ADMITTED, now, values)

    @staticmethod
    def _look(
        counter: _Counter | None, window_us: int, bucket_us: int, limit: int, cost: int
    ) -> tuple[int, int, int]:
        used = counter.total if counter is not None else 0
        live: Sequence[Sequence[int]] = counter.buckets if counter is not None else ()
        at = 0
        if used + cost > limit:
            at = retry_at(live, used, cost, limit, window_us, bucket_us)
        return used, live[0][0] if live else -1, at

    def _now_us(self) -> int:
        """The injected clock's monotonic reading in integer microseconds."""
        if self._system:
            return _monotonic_ns() // 1000
        return int(self._monotonic() * 1_000_000)

    def _roll(self, c: _Counter, now: int) -> bool:
        """Open a new newest bucket for ``c`` when its newest one has ended but none of its
        buckets has left the window yet (the usual reason a fast period ends with short
        buckets); anything else (expiry, a dropped counter) is left to the general path."""
        bucket_us = c.bucket_us
        expiry = (c.oldest + 1) * bucket_us + c.window_us
        if c.fast_until == 0 or now >= expiry:
            return False
        index = now // bucket_us
        newest = c.newest
        if newest[0] >= index:
            return False
        newest[1] = c.total - c.base  # settle the fast-path count into the ending bucket
        bucket = [index, 0]
        c.buckets.append(bucket)
        c.newest = bucket
        c.base = c.total
        end = (index + 1) * bucket_us
        c.fast_until = end if end < expiry else expiry
        if end + c.window_us > c.expires_us:
            c.expires_us = end + c.window_us
        self._counters.move_to_end(c.key)
        return True

    @staticmethod
    def _undo(hot: tuple[tuple[_Counter, int, int], ...], counted: int) -> None:
        for c, _, cost in hot[:counted]:
            c.total -= cost

    def _sweep(self, now: int) -> None:
        # Least recently written first: stop at the first counter still holding live buckets.
        self._ops = 0
        counters = self._counters
        while counters:
            key, counter = next(iter(counters.items()))
            if counter.expires_us > now:
                break
            del counters[key]
            counter.fast_until = 0

    def __len__(self) -> int:
        """Number of counters held (for tests of memory bounds)."""
        return len(self._counters)

    def bucket_count(self, key: str) -> int:
        counter = self._counters.get(key)
        return len(counter.buckets) if counter is not None else 0

    async def get_tier(self, tier_key: str) -> str | None:
        return self._tiers.get(tier_key)

    async def set_tier(self, tier_key: str, tier: str | None) -> None:
        self._epoch = object()
        if tier is None:
            self._tiers.pop(tier_key, None)
        else:
            self._tiers[tier_key] = tier

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            counter = self._counters.pop(key, None)
            if counter is not None:
                counter.fast_until = 0

    # --- reservations ---------------------------------------------------------------------------

    async def settle(self, request: SettleRequest) -> SettleResult:
        return self.settle_now(request)

    def settle_now(self, request: SettleRequest) -> SettleResult:
        """The synchronous core of ``settle`` (atomic under asyncio, like ``apply_now``)."""
        now = self._now_us()
        if request.refund > 0:
            for key, window_us, bucket_us, _limit, index in request.counters:
                counter = self._counters.get(key)
                if counter is None or index < (now - window_us) // bucket_us:
                    continue  # that bucket has left the window: nothing counted to refund
                counter.newest[1] = counter.total - counter.base  # settle the fast-path count
                for bucket in counter.buckets:
                    if bucket[0] == index:
                        take = min(request.refund, bucket[1])
                        bucket[1] -= take
                        counter.total -= take
                        counter.base = counter.total - counter.newest[1]
                        break
        charged = 0
        if request.extra > 0:
            specs = tuple(CounterSpec(k, w, b, limit, 0) for k, w, b, limit, _ in request.counters)
            seen = self.apply_now(BackendRequest(specs, consume=False)).values
            room = min(spec.limit - seen[3 * i] for i, spec in enumerate(specs))
            charged = max(0, min(request.extra, room))
            if charged:
                charge = tuple(
                    CounterSpec(s.key, s.window_us, s.bucket_us, s.limit, charged) for s in specs
                )
                self.apply_now(BackendRequest(charge))
        return SettleResult(now, charged)

    # --- concurrency leases -----------------------------------------------------------------------

    def _holders(self, key: str, now: int) -> dict[str, int]:
        holders = self._leases.setdefault(key, {})
        for token in [t for t, expires in holders.items() if expires <= now]:
            del holders[token]
        return holders

    async def acquire_lease(self, key: str, token: str, limit: int, ttl_us: int) -> LeaseResult:
        now = self._now_us()
        holders = self._holders(key, now)
        if token in holders or len(holders) < limit:
            holders[token] = now + ttl_us
            return LeaseResult(True, len(holders), now)
        return LeaseResult(False, len(holders), now, min(holders.values()))

    async def renew_lease(self, key: str, token: str, ttl_us: int) -> bool:
        now = self._now_us()
        holders = self._holders(key, now)
        if token not in holders:
            return False
        holders[token] = now + ttl_us
        return True

    async def release_lease(self, key: str, token: str) -> None:
        holders = self._leases.get(key)
        if holders is not None:
            holders.pop(token, None)
            if not holders:
                del self._leases[key]
