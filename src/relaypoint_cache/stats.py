"""Snapshots returned by ``await cache.stats()``."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaypoint_cache.l1 import NamespaceStats

__all__ = ["CacheStats", "NamespaceSnapshot"]


@dataclass(frozen=True, slots=True)
class NamespaceSnapshot:
    """Counters of one namespace, summed over tenants."""

    hits_l1: int
    hits_l2: int
    misses: int
    stale_served: int
    early_refreshes: int
    coalesced: int
    lock_waits: int
    errors: int

    @property
    def hits(self) -> int:
        return self.hits_l1 + self.hits_l2

    @property
    def hit_rate(self) -> float:
        """Hits over lookups that hit or missed (coalesced callers are neither); 0.0 when idle."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @classmethod
    def of(cls, stats: NamespaceStats) -> NamespaceSnapshot:
        return cls(
            hits_l1=stats.hits_l1,
            hits_l2=stats.hits_l2,
            misses=stats.misses,
            stale_served=stats.stale_served,
            early_refreshes=stats.early_refreshes,
            coalesced=stats.coalesced,
            lock_waits=stats.lock_waits,
            errors=stats.errors,
        )


@dataclass(frozen=True, slots=True)
class CacheStats:
    """One cache's state: per-namespace counters, L1 size, L2 health, bookkeeping bounds.

    ``tenant_scopes`` is how many (tenant, namespace) scopes this process tracks (bounded by
    ``relaypoint_cache.engine.scopes.MAX_SCOPES``); ``tag_index_entries`` how many (tenant, tag)
    pairs the local tag index holds and ``largest_tag`` the most L1 keys under one of them (both
    bounded by the L1 size, so tagging every entry cannot grow memory without limit).
    """

    namespaces: dict[str, NamespaceSnapshot]
    l1_entries: int
    l1_bytes: int
    l1_evictions: int
    l2_enabled: bool
    circuit_state: str
    subscribed: bool
    errors: dict[str, int] = field(default_factory=dict)
    tenant_scopes: int = 0
    tag_index_entries: int = 0
    largest_tag: int = 0

    @property
    def hit_rate(self) -> float:
        hits = sum(ns.hits for ns in self.namespaces.values())
        total = hits + sum(ns.misses for ns in self.namespaces.values())
        return hits / total if total else 0.0
