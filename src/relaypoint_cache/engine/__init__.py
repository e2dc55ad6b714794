"""The cache engine, one module per job.

- `.cache`: the `Cache` facade's read and write paths (the L1 hit paths stay here).
- `.base`: `CacheBase`, the facade's configuration, composition and housekeeping.
- `.loader`: the miss path (stale serving, early refresh, L2, lease, compute, store).
- `.freshness`: deadlines, XFetch early refresh, stale-while-revalidate / stale-if-error.
- `.singleflight`: one computation per key in this process.
- `.leases`: one computation per key across processes (fenced Redis leases).
- `.l2`: the L2 access path (connection per event loop, timeouts, circuit breaker, versions).
- `.invalidation`: what to drop, here and elsewhere, and the notice format.
- `.coherence`: the pub/sub subscription that delivers notices.
- `.tags`: tag versions and the L1 tag index.
- `.scopes`: tenant namespaces, bounded.
- `.keys`: Redis key layout and name validation (pure).
- `.settings`: the run-time settings every part shares (built from `CacheSettings`).
"""

from __future__ import annotations

from relaypoint_cache.engine.cache import DEFAULT_NAMESPACE, MISSING, Cache
from relaypoint_cache.engine.keys import l2_key, versioned_base

__all__ = ["DEFAULT_NAMESPACE", "MISSING", "Cache", "l2_key", "versioned_base"]
