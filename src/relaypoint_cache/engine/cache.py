"""The ``Cache`` facade: configuration, the L1 hit paths, and the composition of the engine's parts.

Read path: an L1 hit is one dict lookup and no await beyond the coroutine itself. It stays here,
in ``get`` and ``get_or_set`` (and in ``@cached``), on purpose: no indirection on the hottest
path. A miss goes to `.loader`, which reads L2 (`.l2`: one ``GET``; the versions that
are part of the key are known locally and re-read at most every ``version_ttl`` seconds), then
calls the factory, single-flighted in the process (`.singleflight`) and leased across
processes (`.leases`); what may be served when is decided by `.freshness`.

Write path: the value goes to L1 and L2, and a notice (`.invalidation`) received through
the pub/sub subscription (`.coherence`) tells every other process to drop its L1 copy.

Faults: every L2 call has a timeout and goes through a circuit breaker; a failing Redis makes the
cache an L1 + factory cache, never an exception in the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from relaypoint_cache.engine.base import MISSING, CacheBase
from relaypoint_cache.engine.keys import DEFAULT_NAMESPACE, check_tags
from relaypoint_cache.engine.loader import Factory, call_factory
from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_cache.policy import FreshnessPolicy
from relaypoint_core.tenant_context import current_tenant, validate_tenant_id

__all__ = ["DEFAULT_NAMESPACE", "MISSING", "Cache"]

logger = logging.getLogger("relaypoint.cache")


class Cache(CacheBase):
    """An L1 (+ optional Redis L2) cache; see the module docstring, `CacheBase` and ``docs/cache.md``.

    ``url``: ``None``/``memory://`` for L1 only, or ``redis://``, ``rediss://``,
    ``redis+cluster://``. The other options, their defaults and their ranges are the fields of
    `CacheSettings`. With ``from_env=True`` (the default instance) the URL and the on/off switch
    come from ``REDIS_URL`` and ``ENABLE_CACHING`` on first use, not at construction.

    Raises:
        CacheConfigurationError: An option is unknown or out of range.
    """

    # -- reads -----------------------------------------------------------------------------------
    async def get(
        self,
        key: str,
        default: Any = None,
        *,
        tenant_id: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Any:
        """The cached value, or ``default`` on a miss (a cached ``None`` is returned as ``None``)."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        hot = self.hot_path
        entry = hot.entries.get((tenant, namespace, key))
        if entry is not None and entry.soft > hot.now() and entry.epoch == entry.scope.epoch:
            entry.ref = True
            entry.stats.hits_l1 += 1
            hook = hot.monitor_hook
            if hook is not None:
                hook(True, tenant_id=tenant)
            return entry.value
        return await self._get_slow(tenant, namespace, key, default)

    async def _get_slow(self, tenant: str | None, namespace: str, key: str, default: Any) -> Any:
        self._ensure_configured()
        scope = self._scopes.get(tenant, namespace, key)
        stats = scope.stats
        if not self._shared.current.enabled:
            stats.misses += 1
            self._report(False, tenant)
            return default
        lkey = (tenant, namespace, key)
        now = self._now()
        entry = self._l1.data.get(lkey)
        if (
            entry is not None
            and entry.scope is scope
            and entry.epoch == scope.epoch
            and now < entry.l1_until
            and now < entry.fresh
        ):
            # Only the XFetch deadline passed; a plain get has nothing to refresh with.
            entry.soft = min(entry.l1_until, entry.fresh)
            stats.hits_l1 += 1
            self._report(True, tenant)
            return entry.value
        found = await self._tags.read_entry(scope, key)
        if found is not None:
            meta, value, size = found
            if self._clock.time() < meta.fresh_until:
                stats.hits_l2 += 1
                self._loader.fill_l1(scope, lkey, key, value, meta, size, None)
                self._report(True, tenant)
                return value
        stats.misses += 1
        self._report(False, tenant)
        return default

    async def get_or_set(
        self,
        key: str,
        factory_func: Factory,
        ttl: float | None = None,
        *,
        tenant_id: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        l1_ttl: float | None = None,
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        early_refresh: bool | None = None,
        negative_ttl: float | None = None,
        lease: bool = True,
        tags: Iterable[str] = (),
    ) -> Any:
        """The cached value, or the factory's (computed once across callers and processes).

        ``factory_func`` may be sync, async, or return an awaitable. Factory exceptions reach the
        caller (unless a ``stale_if_error`` value can be served); cache faults never do.
        """
        tenant = tenant_id if tenant_id is not None else current_tenant()
        hot = self.hot_path
        entry = hot.entries.get((tenant, namespace, key))
        if entry is not None and entry.soft > hot.now() and entry.epoch == entry.scope.epoch:
            entry.ref = True
            entry.stats.hits_l1 += 1
            hook = hot.monitor_hook
            if hook is not None:
                hook(True, tenant_id=tenant)
            return entry.value
        policy = FreshnessPolicy(
            ttl=ttl,
            l1_ttl=l1_ttl,
            stale_while_revalidate=stale_while_revalidate,
            stale_if_error=stale_if_error,
            early_refresh=early_refresh,
            negative_ttl=negative_ttl,
            lease=lease,
            tags=tuple(tags),
        )
        return await self.load(tenant, namespace, key, factory_func, policy)

    async def load(
        self,
        tenant: str | None,
        namespace: str,
        key: str,
        factory: Factory,
        policy: FreshnessPolicy,
    ) -> Any:
        """The miss path of `get_or_set` with a ready `FreshnessPolicy` (``@cached`` calls it).

        Args:
            tenant: The tenant id (``None`` for global entries); not resolved from the context.
            namespace: The namespace.
            key: The key inside the namespace.
            factory: Computes the value on a miss (sync, async, or returning an awaitable).
            policy: TTLs, stale windows, lease and tags of this entry.

        Returns:
            The cached or computed value.
        """
        self._ensure_configured()
        scope = self._scopes.get(tenant, namespace, key)
        if not self._shared.current.enabled:
            scope.stats.misses += 1
            return await call_factory(factory)
        return await self._loader.get_or_set(scope, key, factory, policy)

    # -- writes ----------------------------------------------------------------------------------
    async def set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        *,
        tenant_id: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        l1_ttl: float | None = None,
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        tags: Iterable[str] = (),
    ) -> bool:
        """Store ``value``; other processes drop their L1 copies. ``False`` if caching is off.

        ``tags`` lets `invalidate_tag` retire this entry together with others.

        Raises `SerializationError` for a value the serializer cannot encode.
        """
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        policy = FreshnessPolicy(ttl=ttl, l1_ttl=l1_ttl, tags=tuple(tags))
        scope = self._scopes.get(tenant, namespace, key)
        if not self._shared.current.enabled:
            return False
        tag_versions = await self._tags.snapshot(tenant, policy.tags)
        if tag_versions is None:
            self._l1.remove((tenant, namespace, key))
            return False
        meta = self._loader.new_meta(
            ttl if ttl is not None else self._shared.current.default_ttl,
            stale_while_revalidate,
            stale_if_error,
            0.0,
            tag_versions,
        )
        await self._loader.write(
            scope,
            (tenant, namespace, key),
            key,
            value,
            meta,
            l1_ttl=l1_ttl,
            early_refresh=None,
            token=None,
            notify=True,
            strict=True,
        )
        return True

    async def delete(
        self, key: str, *, tenant_id: str | None = None, namespace: str = DEFAULT_NAMESPACE
    ) -> bool:
        """Remove ``key`` here, in L2 and in every other process's L1. ``True`` if it existed."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scopes.get(tenant, namespace, key)
        return await self._invalidation.delete(scope, key)

    async def invalidate_pattern(
        self,
        pattern: str,
        *,
        tenant_id: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        scan_count: int = 500,
    ) -> int:
        """Remove the keys of one tenant's namespace matching a glob (``*``, ``?``).

        Redis is never asked for ``KEYS`` or a database-wide ``SCAN``: every entry is indexed in a
        set per tenant namespace, walked with ``SSCAN`` in batches of ``scan_count``, so the cost
        is bounded by the size of that one namespace. Returns the number of entries removed.
        """
        if not isinstance(pattern, str) or not pattern:
            raise CacheConfigurationError("invalidate_pattern needs a non-empty glob pattern")
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scopes.get(tenant, namespace, pattern)
        return await self._invalidation.delete_pattern(scope, pattern, scan_count)

    async def invalidate_namespace(
        self, namespace: str = DEFAULT_NAMESPACE, *, tenant_id: str | None = None
    ) -> None:
        """Retire every entry of one tenant's namespace in O(1) (a version bump, no scan)."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scopes.get(tenant, namespace, "")
        await self._invalidation.retire_namespace(scope)

    async def flush_tenant(self, tenant_id: str) -> None:
        """Retire every entry of one tenant, all namespaces, in O(1) (a generation bump)."""
        validate_tenant_id(tenant_id)
        self._ensure_configured()
        await self._invalidation.retire_tenant(tenant_id)

    async def invalidate_tag(self, tag: str, *, tenant_id: str | None = None) -> None:
        """Retire every entry of one tenant carrying ``tag``, in every namespace, in O(1).

        The tag's version is incremented (entries written under the old version are no longer
        served from L2), and L1 copies here and in other processes are dropped.
        """
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scopes.get(tenant, DEFAULT_NAMESPACE, "")
        check_tags((tag,))
        await self._invalidation.retire_tag(scope, tag)
