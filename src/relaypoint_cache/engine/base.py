"""The configuration, composition and housekeeping half of the cache facade.

`CacheBase` builds the engine's parts around one `SettingsCell`, swaps in new frozen settings on
``configure``, resolves the environment on first use, and owns introspection and shutdown.
`relaypoint_cache.engine.cache.Cache` adds the read and write paths.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Unpack

from relaypoint_cache import metrics
from relaypoint_cache.backends import L2Backend
from relaypoint_cache.engine.coherence import Subscription
from relaypoint_cache.engine.invalidation import Invalidation
from relaypoint_cache.engine.l2 import L2Access
from relaypoint_cache.engine.leases import Leases
from relaypoint_cache.engine.loader import Loader
from relaypoint_cache.engine.scopes import ScopeRegistry
from relaypoint_cache.engine.settings import EngineSettings, SettingsCell, SettingView
from relaypoint_cache.engine.tags import TagRegistry
from relaypoint_cache.l1 import Entry, L1Store
from relaypoint_cache.settings import CacheOptions, CacheSettings
from relaypoint_cache.stats import CacheStats, NamespaceSnapshot

__all__ = ["MISSING", "CacheBase", "HotPath"]

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


class CacheBase:
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

    def use_environment(self) -> None:
        """Return to the default instance's start: default settings, the environment read on first use.

        Drops L1 and any Redis connection, like `configure`.
        """
        self.configure(None)
        self._settings = CacheSettings.build(None)
        self._from_env = True
        self._use(self._settings)

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
        config = self._settings
        if self._from_env:
            config = config.with_environment()  # a bad variable raises at every use until fixed
            self._settings = config
        self._configured = True
        metrics.register_cache(self)
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
            tenant_scopes=len(self._scopes),
            tag_index_entries=len(self._tags.index),
            largest_tag=max(map(len, list(self._tags.index.values())), default=0),
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
