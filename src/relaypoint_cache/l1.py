"""The in-process level: a bounded map with TTLs, CLOCK (second-chance) eviction and a byte budget.

Why not ``cachetools.TLRUCache``: a hit there moves the key in a linked list and runs the TTL
timer function; here a hit is one dict lookup plus three attribute reads and one bit set, and the
eviction work (a second chance for recently used entries, an approximation of LRU with a better hit
cost) is paid on insert. ``benchmarks/bench_cache.py`` measures both.

Invalidation is O(1): every entry remembers the epoch of its `Scope` (one tenant's
namespace) when it was stored, and bumping the scope's epoch retires all of them at once.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

__all__ = ["Entry", "L1Store", "NamespaceStats", "Scope", "estimate_size"]

LocalKey = tuple[str | None, str, str]


class NamespaceStats:
    """Plain counters per namespace (summed over tenants); metrics read them at scrape time."""

    __slots__ = (
        "coalesced",
        "early_refreshes",
        "errors",
        "hits_l1",
        "hits_l2",
        "lock_waits",
        "misses",
        "name",
        "stale_served",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits_l1 = 0
        self.hits_l2 = 0
        self.misses = 0
        self.stale_served = 0
        self.early_refreshes = 0
        self.coalesced = 0
        self.lock_waits = 0
        self.errors = 0


class Scope:
    """One tenant's namespace: its invalidation epoch, its Redis key base and cached versions."""

    __slots__ = (
        "base_cache",
        "epoch",
        "namespace",
        "redis_base",
        "remote_checked",
        "remote_version",
        "stats",
        "tenant",
    )

    def __init__(self, tenant: str | None, namespace: str, stats: NamespaceStats) -> None:
        self.tenant = tenant
        self.namespace = namespace
        self.stats = stats
        self.epoch = 0
        self.redis_base = ""
        self.base_cache: tuple[str, str] = ("", "")  # (version, versioned base) last built
        self.remote_version: str | None = None
        self.remote_checked = 0.0

    def invalidate(self) -> None:
        """Retire every L1 entry of this scope and forget the Redis versions (re-read lazily)."""
        self.epoch += 1
        self.remote_version = None


class Entry:
    """One cached value in L1; deadlines are readings of the cache's monotonic clock."""

    __slots__ = (
        "delta",
        "epoch",
        "fresh",
        "l1_until",
        "ref",
        "refreshing",
        "scope",
        "sie",
        "size",
        "skey",
        "soft",
        "stats",
        "swr",
        "value",
    )

    def __init__(
        self,
        value: Any,
        scope: Scope,
        skey: str,
        *,
        soft: float,
        fresh: float,
        swr: float,
        sie: float,
        l1_until: float,
        delta: float,
        size: int,
    ) -> None:
        self.value = value
        self.scope = scope
        self.stats = scope.stats  # one attribute hop less on every hit
        self.epoch = scope.epoch
        self.skey = skey
        self.soft = soft
        self.fresh = fresh
        self.swr = swr
        self.sie = sie
        self.l1_until = l1_until
        self.delta = delta
        self.size = size
        self.ref = False
        self.refreshing = False


def estimate_size(value: Any, payload: bytes | None = None) -> int:
    """A cheap size estimate: the encoded size when known, else a one-level ``getsizeof`` walk."""
    if payload is not None:
        return len(payload) + 200
    size = sys.getsizeof(value, 64)
    if isinstance(value, dict):
        size += sum(sys.getsizeof(k, 64) + sys.getsizeof(v, 64) for k, v in value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        size += sum(sys.getsizeof(v, 64) for v in value)
    return size + 200


class L1Store:
    """Bounded by ``max_entries`` and ``max_bytes``; one value may use at most ``max_entry_bytes``."""

    __slots__ = ("bytes", "data", "evictions", "max_bytes", "max_entries", "max_entry_bytes")

    def __init__(
        self, max_entries: int, max_bytes: int, max_entry_bytes: int | None = None
    ) -> None:
        self.data: OrderedDict[Hashable, Entry] = OrderedDict()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes if max_entry_bytes is not None else max_bytes // 8
        self.bytes = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.data)

    def put(self, lkey: Hashable, entry: Entry, now: float) -> bool:
        """Store ``entry``; ``False`` when it is too large to keep (the old entry is dropped too)."""
        self.remove(lkey)
        if self.max_entries <= 0 or entry.size > self.max_entry_bytes:
            return False
        self.data[lkey] = entry
        self.bytes += entry.size
        if len(self.data) > self.max_entries or self.bytes > self.max_bytes:
            self._evict(now)
        return True

    def remove(self, lkey: Hashable) -> bool:
        entry = self.data.pop(lkey, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True

    def clear(self) -> None:
        self.data.clear()
        self.bytes = 0

    def remove_where(self, predicate: Callable[[Entry], bool]) -> int:
        doomed = [k for k, e in self.data.items() if predicate(e)]
        for key in doomed:
            self.remove(key)
        return len(doomed)

    def items(self) -> Iterator[tuple[Hashable, Entry]]:
        return iter(list(self.data.items()))

    def _evict(self, now: float) -> None:
        data = self.data
        # Each entry gets at most one second chance, so this loop ends within two passes.
        budget = 2 * len(data) + 1
        while (len(data) > self.max_entries or self.bytes > self.max_bytes) and budget > 0:
            budget -= 1
            key, entry = data.popitem(last=False)
            if entry.ref and entry.l1_until > now and entry.epoch == entry.scope.epoch:
                entry.ref = False
                data[key] = entry
                continue
            self.bytes -= entry.size
            self.evictions += 1
