"""The ``Cache`` facade: configuration, the L1 hit paths, and the composition of the engine's parts.

Read path: an L1 hit is one dict lookup and no await beyond the coroutine itself. It stays here,
in ``get`` and ``get_or_set`` (and in ``@cached``), on purpose: no indirection on the hottest
path. A miss goes to :mod:`.loader`, which reads L2 (:mod:`.l2`: one ``GET``; the versions that
are part of the key are known locally and re-read at most every ``version_ttl`` seconds), then
calls the factory, single-flighted in the process (:mod:`.singleflight`) and leased across
processes (:mod:`.leases`); what may be served when is decided by :mod:`.freshness`.

Write path: the value goes to L1 and L2, and a notice (:mod:`.invalidation`) received through
the pub/sub subscription (:mod:`.coherence`) tells every other process to drop its L1 copy.

Faults: every L2 call has a timeout and goes through a circuit breaker; a failing Redis makes the
cache an L1 + factory cache, never an exception in the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from relaypoint_cache import metrics
from relaypoint_cache.backends import L2Backend
from relaypoint_cache.engine.coherence import Subscription
from relaypoint_cache.engine.invalidation import Invalidation
from relaypoint_cache.engine.keys import DEFAULT_NAMESPACE, check_tags
from relaypoint_cache.engine.l2 import L2Access
from relaypoint_cache.engine.leases import Leases
from relaypoint_cache.engine.loader import Factory, Loader, call_factory
from relaypoint_cache.engine.scopes import ScopeRegistry
from relaypoint_cache.engine.settings import EngineSettings, SettingsCell, SettingView
from relaypoint_cache.engine.tags import TagRegistry
from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_cache.l1 import Entry, L1Store
from relaypoint_cache.policy import FreshnessPolicy
from relaypoint_cache.settings import CacheOptions, CacheSettings
from relaypoint_cache.stats import CacheStats, NamespaceSnapshot
from relaypoint_core.tenant_context import current_tenant, validate_tenant_id

__all__ = ["DEFAULT_NAMESPACE", "MISSING", "Cache", "HotPath"]

logger = logging.getLogger("relaypoint.cache")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
"""Pass as ``default`` to ``get`` to tell a cached ``None`` from a miss."""


@dataclass(frozen=True, slots=True)
class HotPath:
    """What an L1 hit needs, read-only: `Cache.get`, `Cache.get_or_set` and ``@cached`` use it.

    A new one replaces it when the cache is (re)configured or first used.
    """

    entries: Mapping[Hashable, Entry]
    """The L1 entries by ``(tenant, namespace, key)``."""
    now: Callable[[], float]
    """The monotonic clock reading entries' deadlines compare against."""
    monitor_hook: Callable[..., None] | None
    """Called as ``hook(hit, tenant_id=...)`` on every lookup when monitoring is on."""


class Cache:
    """An L1 (+ optional Redis L2) cache; see the module docstring and ``docs/cache.md``.

    ``url``: ``None``/``memory://`` for L1 only, or ``redis://``, ``rediss://``,
    ``redis+cluster://``. The other options, their defaults and their ranges are the fields of
    `CacheSettings`. With ``from_env=True`` (the default instance) the URL and the on/off switch
    come from ``REDIS_URL`` and ``ENABLE_CACHING`` on first use, not at construction.

    Raises:
        CacheConfigurationError: An option is unknown or out of range.
    """

    def __init__(
        self, url: str | None = None, *, from_env: bool = False, **options: Unpack[CacheOptions]
    ) -> None:
        config = CacheSettings.build(url, **options)
        self._l1 = L1Store(config.l1_max_entries, config.l1_max_bytes)
        self._shared = SettingsCell(EngineSettings.of(config))
        self._scopes = ScopeRegistry(self._shared.current.scheme)
        self._errors: dict[str, int] = {}
        self._l2 = L2Access(
            self._shared,
            on_connect=self._on_connect,
            on_drop=self._on_drop,
            count_error=self._count_error,
        )
        self._tags = TagRegistry(self._shared, self._l1, self._l2, self._scopes)
        self._invalidation = Invalidation(
            self._shared, self._l1, self._l2, self._scopes, self._tags
        )
        self._loader = Loader(
            self._shared,
            self._l1,
            self._l2,
            Leases(self._shared, self._l2, self._tags),
            self._tags,
            self._invalidation,
            report=self._report,
            count_error=self._count_error,
        )
        self._subscription = Subscription(
            on_notice=self._on_notice, clear_local=self.clear_local, count_error=self._count_error
        )
        self._configured = False
        self._from_env = from_env and url is None
        self._settings = config
        self._use(config)

    # -- configuration ---------------------------------------------------------------------------
    def configure(self, url: str | None = None, **options: Unpack[CacheOptions]) -> None:
        """(Re)configure this cache; drops L1 and any Redis connection. No I/O happens here.

        Options not given keep their current value; ``url`` is always replaced. The environment
        is no longer read afterwards (an explicit configuration wins).

        Raises:
            CacheConfigurationError: An option is unknown or out of range.
        """
        config = self._settings.replace(url=url, **options)
        self._from_env = False
        self._settings = config
        self._configured = False
        self._use(config)
        self._l2.drop()
        self.clear_local()

    def _use(self, config: CacheSettings, monitor_hook: Callable[..., None] | None = None) -> None:
        engine = EngineSettings.of(config)
        self._shared.current = engine
        self._scopes.use_scheme(engine.scheme)
        self._clock = engine.clock
        self._now = engine.now
        self.hot_path = HotPath(self._l1.data, engine.now, monitor_hook)

    def _ensure_configured(self) -> None:
        """Resolve what waits for first use: the environment (default instance), the monitor."""
        if self._configured:
            return
        self._configured = True
        metrics.register_cache(self)
        config = self._settings
        if self._from_env:
            config = config.with_environment()
            self._settings = config
        hook = _monitor_hook() if config.report_to_monitor else None
        if config is not self._shared.current.config or hook is not None:
            self._use(config, hook)

    @property
    def settings(self) -> CacheSettings:
        """The settings in use (frozen; the environment is applied once the cache is first used)."""
        return self._settings

    @property
    def configured(self) -> bool:
        """Whether the first use has resolved the environment and the monitor yet."""
        return self._configured

    @property
    def url(self) -> str:
        """The L2 URL in use (``memory://`` when L1 only)."""
        self._ensure_configured()
        return self._settings.url or "memory://"

    enabled: SettingView[bool] = SettingView("``False`` makes the cache a pass-through.")
    default_ttl: SettingView[float] = SettingView("Seconds a value is fresh by default.")
    l1_ttl: SettingView[float] = SettingView("The longest an L1 copy is trusted without L2.")
    ttl_jitter: SettingView[float] = SettingView("Fraction of the TTL removed at random.")
    early_refresh: SettingView[bool] = SettingView("XFetch probabilistic early refresh.")
    xfetch_beta: SettingView[float] = SettingView("How early XFetch refreshes.")
    op_timeout: SettingView[float] = SettingView("The timeout of each L2 call, in seconds.")
    lease_ttl: SettingView[float] = SettingView("How long a computation lease lasts.")
    lease_wait: SettingView[float] = SettingView("How long to wait for another lease holder.")
    version_ttl: SettingView[float] = SettingView("How often namespace versions are re-read.")

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

        ``tags`` lets :meth:`invalidate_tag` retire this entry together with others.

        Raises :class:`SerializationError` for a value the serializer cannot encode.
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

    def clear_local(self) -> None:
        """Drop this process's L1 (L2 and other processes are untouched)."""
        self._l1.clear()
        self._tags.clear()
        self._scopes.invalidate_all()

    # -- introspection ---------------------------------------------------------------------------
    async def stats(self) -> CacheStats:
        """Hit rates per namespace, L1 size and L2 health."""
        return self.snapshot()

    def snapshot(self) -> CacheStats:
        """What `stats` returns, without awaiting (the metrics collector reads it at scrape time)."""
        return CacheStats(
            namespaces={
                name: NamespaceSnapshot.of(s) for name, s in list(self._scopes.ns_stats.items())
            },
            l1_entries=len(self._l1),
            l1_bytes=self._l1.bytes,
            l1_evictions=self._l1.evictions,
            l2_enabled=self._shared.current.has_l2,
            circuit_state=self._shared.current.breaker.state.value,
            subscribed=self._subscription.active,
            errors=dict(self._errors),
        )

    async def wait_ready(self, wait: float = 5.0) -> bool:
        """Connect to L2 and wait until invalidation notices are being received."""
        self._ensure_configured()
        if self._l2.current() is None:
            return True
        subscribed = self._subscription.event
        assert subscribed is not None
        try:
            async with asyncio.timeout(wait):
                await subscribed.wait()
        except TimeoutError:
            return False
        return True

    async def drain(self) -> None:
        """Wait for the background refreshes started so far (tests, graceful shutdown)."""
        while self._loader.tasks:
            await asyncio.gather(*list(self._loader.tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the listener and background refreshes, close Redis connections."""
        for task in list(self._loader.tasks):
            task.cancel()
        backend = self._l2.detach()
        await self._subscription.close()
        if backend is not None:
            try:
                await backend.close()
            except Exception:
                logger.debug("relaypoint cache: error while closing Redis", exc_info=True)

    # -- internals -------------------------------------------------------------------------------
    def _on_connect(self, backend: L2Backend, loop: asyncio.AbstractEventLoop) -> None:
        self._subscription.start(backend, loop)

    def _on_drop(self) -> None:
        self._subscription.stop()
        self._scopes.forget_remote_versions()

    def _on_notice(self, data: bytes) -> None:
        if not self._invalidation.apply_notice(data):
            self._count_error("notice")

    def _count_error(self, kind: str) -> None:
        self._errors[kind] = self._errors.get(kind, 0) + 1

    def _report(self, hit: bool, tenant: str | None) -> None:
        hook = self.hot_path.monitor_hook
        if hook is not None:
            hook(hit, tenant_id=tenant)


def _monitor_hook() -> Callable[..., None] | None:
    """``performance_monitor.record_cache_access`` when the monitoring module is present."""
    try:
        from relaypoint_core.monitoring import performance_monitor
    except ImportError:  # pragma: no cover - older core without monitoring
        return None
    hook: Callable[..., None] = performance_monitor.record_cache_access
    return hook
