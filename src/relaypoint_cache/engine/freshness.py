"""Freshness decisions: when a value expires, when it is refreshed early, what may still be served.

A stored entry carries wall-clock deadlines (`EntryMeta`, shared by every process); an L1
copy carries the same deadlines on this process's monotonic clock, plus its own ``soft`` deadline
where a lookup stops being a plain hit (XFetch: each process draws its own, earlier for values that
are slow to compute, so one process refreshes before expiry and the others keep hitting).
"""

from __future__ import annotations

import enum
import math
import random
from typing import Any

from relaypoint_cache.envelope import EntryMeta
from relaypoint_cache.l1 import Entry, Scope, estimate_size
from relaypoint_cache.policy import FreshnessPolicy

__all__ = ["Freshness", "entry_meta", "freshness", "local_entry", "stored_ttl"]


class Freshness(enum.Enum):
    FRESH = "fresh"
    STALE_WHILE_REVALIDATE = "stale-while-revalidate"
    """Serve the stale value at once and refresh it in the background (RFC 5861)."""
    STALE_IF_ERROR = "stale-if-error"
    """Recompute; serve the stale value only if the factory raises (RFC 5861)."""
    EXPIRED = "expired"


def freshness(now: float, fresh: float, swr: float, sie: float) -> Freshness:
    """Where ``now`` falls among an entry's deadlines (all on one clock)."""
    if now < fresh:
        return Freshness.FRESH
    if now < swr:
        return Freshness.STALE_WHILE_REVALIDATE
    if now < sie:
        return Freshness.STALE_IF_ERROR
    return Freshness.EXPIRED


def stored_ttl(policy: FreshnessPolicy, value: Any, default_ttl: float) -> float:
    """How long a computed value stays fresh; a ``None`` result may have its own (negative) TTL."""
    ttl = policy.ttl if policy.ttl is not None else default_ttl
    if value is None and policy.negative_ttl is not None:
        ttl = policy.negative_ttl
    return ttl


def entry_meta(
    ttl: float,
    swr: float,
    sie: float,
    delta: float,
    tags: tuple[tuple[str, int], ...],
    *,
    wall_now: float,
    jitter: float,
    rng: random.Random,
) -> EntryMeta:
    """The shared deadlines of a value written now (``jitter`` shortens the TTL at random)."""
    if jitter:
        ttl *= 1.0 - jitter * rng.random()
    fresh = wall_now + ttl
    return EntryMeta(wall_now, fresh, fresh + swr, fresh + sie, delta, tags)


def local_entry(
    scope: Scope,
    key: str,
    value: Any,
    meta: EntryMeta,
    size: int | None,
    *,
    now: float,
    wall_now: float,
    l1_ttl: float | None,
    xfetch_beta: float | None,
    rng: random.Random,
) -> Entry:
    """The L1 copy of a stored entry.

    ``l1_ttl``: the longest the copy is trusted without asking L2 (``None``: L1 is the only level
    and keeps the value for its full life). ``xfetch_beta``: ``None`` turns early refresh off.
    """
    offset = now - wall_now
    fresh = meta.fresh_until + offset
    swr = meta.swr_until + offset
    sie = meta.sie_until + offset
    stale_end = max(fresh, swr, sie)
    l1_until = stale_end if l1_ttl is None else min(now + l1_ttl, stale_end)
    soft = min(l1_until, fresh)
    if xfetch_beta is not None and meta.delta > 0:
        # XFetch: refresh early with a probability that grows as expiry nears and with the
        # value's compute time; each process draws its own deadline.
        soft = min(soft, fresh + meta.delta * xfetch_beta * math.log(1.0 - rng.random()))
    return Entry(
        value,
        scope,
        key,
        soft=soft,
        fresh=fresh,
        swr=swr,
        sie=sie,
        l1_until=l1_until,
        delta=meta.delta,
        size=estimate_size(value) if size is None else size + 200,
    )
