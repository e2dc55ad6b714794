"""The in-process backend: the same bucketed sliding window as the Redis script, in Python.

Each counter keeps a deque of ``[bucket_index, count]`` pairs (at most ``buckets + 1`` of them, so
memory per key does not grow with the limit) and their running total. ``apply`` never awaits, so
under asyncio a check-and-count is atomic without a lock. Time comes from the injected clock's
``monotonic()`` reading in integer microseconds. Not shared between processes: use Redis for that.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

from relaypoint_core.clock import Clock, system_clock
from relaypoint_ratelimit.backends.base import (
    ADMITTED,
    REFUSED,
    TIER_CHANGED,
    BackendRequest,
    BackendResult,
)

__all__ = ["MemoryBackend"]

_SWEEP_EVERY = 1024


class _Counter:
    __slots__ = ("buckets", "expires_us", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()
        self.total = 0
        self.expires_us = 0


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


class MemoryBackend:
    """Counters and stored tiers in this process's memory (asyncio-safe, not thread-safe)."""

    name = "memory"
    remote = False

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._counters: OrderedDict[str, _Counter] = OrderedDict()
        self._tiers: dict[str, str] = {}
        self._ops = 0

    async def startup(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def apply(self, request: BackendRequest) -> BackendResult:
        return self.apply_now(request)

    def now_us(self) -> int:
        return int(self._clock.monotonic() * 1_000_000)

    def apply_now(self, request: BackendRequest) -> BackendResult:
        """The synchronous core of :meth:`apply` (no await, hence atomic under asyncio)."""
        now = self.now_us()
        if request.expected_tier is not None and request.tier_key is not None:
            stored = self._tiers.get(request.tier_key, "")
            if stored != request.expected_tier:
                return BackendResult(TIER_CHANGED, now, (), stored)
        counters = self._counters
        live: list[_Counter | None] = []
        refused = False
        for spec in request.counters:
            counter = counters.get(spec.key)
            if counter is not None:
                low = (now - spec.window_us) // spec.bucket_us
                buckets = counter.buckets
                while buckets and buckets[0][0] < low:
                    counter.total -= buckets.popleft()[1]
            live.append(counter)
            used = counter.total if counter is not None else 0
            if used + spec.cost > spec.limit:
                refused = True
        values: list[int] = []
        if refused or not request.consume:
            for spec, counter in zip(request.counters, live, strict=True):
                used = counter.total if counter is not None else 0
                buckets_seq: Sequence[Sequence[int]] = (
                    counter.buckets if counter is not None else ()
                )
                oldest = buckets_seq[0][0] if buckets_seq else -1
                fits = used + spec.cost <= spec.limit
                at = (
                    0
                    if fits
                    else retry_at(
                        buckets_seq, used, spec.cost, spec.limit, spec.window_us, spec.bucket_us
                    )
                )
                values += (used, oldest, at)
            return BackendResult(REFUSED if refused else ADMITTED, now, values)
        for spec, existing in zip(request.counters, live, strict=True):
            counter = existing
            if counter is None:
                counter = counters[spec.key] = _Counter()
            else:
                counters.move_to_end(spec.key)
            index = now // spec.bucket_us
            buckets = counter.buckets
            if buckets and buckets[-1][0] >= index:
                buckets[-1][1] += spec.cost
            else:
                buckets.append([index, spec.cost])
            counter.total += spec.cost
            counter.expires_us = max(
                counter.expires_us, (index + 1) * spec.bucket_us + spec.window_us
            )
            values += (counter.total, buckets[0][0], 0)
        self._ops += 1
        if self._ops >= _SWEEP_EVERY:
            self._sweep(now)
        return BackendResult(ADMITTED, now, values)

    def _sweep(self, now: int) -> None:
        # Least recently written first: stop at the first counter still holding live buckets.
        self._ops = 0
        counters = self._counters
        while counters:
            key, counter = next(iter(counters.items()))
            if counter.expires_us > now:
                break
            del counters[key]

    def __len__(self) -> int:
        """Number of counters held (for tests of memory bounds)."""
        return len(self._counters)

    def bucket_count(self, key: str) -> int:
        counter = self._counters.get(key)
        return len(counter.buckets) if counter is not None else 0

    async def get_tier(self, tier_key: str) -> str | None:
        return self._tiers.get(tier_key)

    async def set_tier(self, tier_key: str, tier: str | None) -> None:
        if tier is None:
            self._tiers.pop(tier_key, None)
        else:
            self._tiers[tier_key] = tier

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._counters.pop(key, None)
