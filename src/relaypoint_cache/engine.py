"""The two-level cache engine: L1 in process, L2 in Redis, stampede protection, coherent invalidation.

Read path: an L1 hit is one dict lookup and no await beyond the coroutine itself. An L1 miss goes
to L2 (one ``GET``: the namespace and tenant versions that are part of the key are known locally
and re-read at most every ``version_ttl`` seconds), then to the factory. Computations of one key are
single-flighted in the process and leased across processes (``SET NX PX`` with a fencing token).

Write path: the value goes to L1 and L2, and a notice on Redis pub/sub tells every other process
to drop its L1 copy. A process that loses its subscription flushes its L1, so staleness stays
bounded by the L1 TTL even when notices are lost.

Faults: every L2 call has a timeout and goes through a circuit breaker; a failing Redis makes the
cache an L1 + factory cache, never an exception in the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import math
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Final, TypeVar

from relaypoint_cache import metrics
from relaypoint_cache.backends import L2Backend, create_backend
from relaypoint_cache.envelope import EntryMeta, pack_entry, unpack_entry
from relaypoint_cache.errors import CacheConfigurationError, CacheError, SerializationError
from relaypoint_cache.l1 import Entry, L1Store, NamespaceStats, Scope, estimate_size
from relaypoint_cache.policy import FreshnessPolicy
from relaypoint_cache.serializers import Serializer, make_serializer
from relaypoint_cache.stats import CacheStats, NamespaceSnapshot
from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.keys import DEFAULT_KEY_PREFIX, KeyScheme, escape_glob, escape_key_part
from relaypoint_core.tenant_context import current_tenant, validate_tenant_id

__all__ = ["DEFAULT_NAMESPACE", "MISSING", "Cache", "l2_key", "versioned_base"]

logger = logging.getLogger("relaypoint.cache")

T = TypeVar("T")
Factory = Callable[[], Any]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
"""Pass as ``default`` to ``get`` to tell a cached ``None`` from a miss."""

DEFAULT_NAMESPACE = "default"
_FAILED: Final[Any] = object()
_MAX_SCOPES = 50_000
_MAX_NAMESPACE_STATS = 1_000
_MAX_TAG_VERSIONS = 100_000
_NAMESPACE_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` any run, ``?`` one character; everything else literal (as documented)."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _redis_glob(pattern: str) -> str:
    """The SCAN MATCH glob for a user pattern over escaped keys: literals escaped, wildcards kept."""
    out = []
    literal: list[str] = []
    for char in pattern:
        if char in "*?":
            out.append(escape_glob(escape_key_part("".join(literal))))
            literal.clear()
            out.append(char)
        else:
            literal.append(char)
    out.append(escape_glob(escape_key_part("".join(literal))))
    return "".join(out)


def versioned_base(tenant_prefix: str, version: str, namespace: str) -> str:
    """Where one tenant namespace's values live: ``rp:cache:{t==acme}:<gen>.<nsver>:<ns>:``.

    ``tenant_prefix`` comes from :meth:`KeyScheme.tenant_prefix` (escaped, hash-tagged); the
    namespace is escaped here, and the user key is escaped when appended, so no tenant id,
    namespace or key can produce another scope's key.
    """
    return tenant_prefix + version + ":" + escape_key_part(namespace) + ":"


def l2_key(scheme: KeyScheme, tenant: str | None, namespace: str, key: str, version: str) -> str:
    """The Redis key of one entry (see :func:`versioned_base`)."""
    return versioned_base(scheme.tenant_prefix(tenant), version, namespace) + escape_key_part(key)


def _check_tags(tags: Iterable[str]) -> None:
    for tag in tags:
        if not isinstance(tag, str) or not _NAMESPACE_PATTERN.match(tag):
            raise CacheConfigurationError(
                f"tag {tag!r} is not allowed: use 1-200 printable characters"
            )


async def _call_factory(factory: Factory) -> Any:
    result = factory()
    if inspect.isawaitable(result):
        result = await result
    return result


class Cache:
    """An L1 (+ optional Redis L2) cache; see the module docstring and ``docs/cache.md``.

    ``url``: ``None``/``memory://`` for L1 only, or ``redis://``, ``rediss://``,
    ``redis+cluster://``. With ``from_env=True`` (the default instance) the URL and the on/off
    switch come from ``REDIS_URL`` and ``ENABLE_CACHING`` on first use, not at construction.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        default_ttl: float = 300.0,
        l1_ttl: float = 60.0,
        l1_max_entries: int = 10_000,
        l1_max_bytes: int = 64 * 1024 * 1024,
        ttl_jitter: float = 0.0,
        serializer: str | Serializer = "json",
        pickle_secret: str | bytes | None = None,
        op_timeout: float = 0.25,
        lease_ttl: float = 10.0,
        lease_wait: float = 5.0,
        version_ttl: float = 1.0,
        early_refresh: bool = True,
        xfetch_beta: float = 1.0,
        circuit_failure_threshold: int = 3,
        circuit_reset_timeout: float = 2.0,
        enabled: bool = True,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
        report_to_monitor: bool = False,
        from_env: bool = False,
    ) -> None:
        self._l1 = L1Store(l1_max_entries, l1_max_bytes)
        # Bound once: the hot paths in get() and @cached read these directly.
        self._data = self._l1.data
        self._clock = clock
        self._now = clock.monotonic
        self._scopes: dict[tuple[str | None, str], Scope] = {}
        self._ns_stats: dict[str, NamespaceStats] = {}
        self._errors: dict[str, int] = {}
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        # Tags: versions known here ((tenant, tag) -> (version, read at)), and which L1 keys
        # carry each tag, so an invalidation can drop them without scanning L1.
        self._tag_versions: dict[tuple[str | None, str], tuple[int, float]] = {}
        self._tag_index: dict[tuple[str | None, str], set[Hashable]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._origin = uuid.uuid4().hex
        self._backend: L2Backend | None = None
        self._backend_loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed: asyncio.Event | None = None
        self._subscription_lost_logged = False
        self._configured = False
        self._monitor_hook: Callable[..., None] | None = None
        self._options: dict[str, Any] = {}
        self.configure(
            url,
            key_prefix=key_prefix,
            default_ttl=default_ttl,
            l1_ttl=l1_ttl,
            ttl_jitter=ttl_jitter,
            serializer=serializer,
            pickle_secret=pickle_secret,
            op_timeout=op_timeout,
            lease_ttl=lease_ttl,
            lease_wait=lease_wait,
            version_ttl=version_ttl,
            early_refresh=early_refresh,
            xfetch_beta=xfetch_beta,
            circuit_failure_threshold=circuit_failure_threshold,
            circuit_reset_timeout=circuit_reset_timeout,
            enabled=enabled,
            clock=clock,
            rng=rng,
            report_to_monitor=report_to_monitor,
            _from_env=from_env,
        )

    # -- configuration ---------------------------------------------------------------------------
    def configure(self, url: str | None = None, **options: Any) -> None:
        """(Re)configure this cache; drops L1 and any Redis connection. No I/O happens here."""
        from_env = bool(options.pop("_from_env", False))
        unknown = set(options) - set(inspect.signature(Cache.__init__).parameters)
        if unknown:
            raise CacheConfigurationError(f"unknown cache option(s): {', '.join(sorted(unknown))}")
        merged = {**self._options, **options}
        merged["url"] = url
        merged["from_env"] = from_env and url is None
        self._options = merged
        self._apply(merged)
        self._configured = False
        self._monitor_hook = None
        self._drop_backend()
        self.clear_local()

    def _apply(self, o: dict[str, Any]) -> None:
        for name in (
            "default_ttl",
            "l1_ttl",
            "lease_ttl",
            "lease_wait",
            "version_ttl",
            "op_timeout",
        ):
            value = o.get(name)
            if not isinstance(value, int | float) or value <= 0:
                raise CacheConfigurationError(f"{name} must be a positive number, got {value!r}")
        jitter = o.get("ttl_jitter", 0.0)
        if not 0.0 <= jitter < 1.0:
            raise CacheConfigurationError("ttl_jitter is a fraction of the TTL in [0, 1)")
        self._scheme = KeyScheme("cache", o.get("key_prefix", DEFAULT_KEY_PREFIX))
        serializer = o.get("serializer", "json")
        self._serializer = (
            make_serializer(serializer, pickle_secret=o.get("pickle_secret"))
            if isinstance(serializer, str)
            else serializer
        )
        self.default_ttl = float(o["default_ttl"])
        self.l1_ttl = float(o["l1_ttl"])
        self.ttl_jitter = float(jitter)
        self.lease_ttl = float(o["lease_ttl"])
        self.lease_wait = float(o["lease_wait"])
        self.version_ttl = float(o["version_ttl"])
        self.op_timeout = float(o["op_timeout"])
        self.early_refresh = bool(o.get("early_refresh", True))
        self.xfetch_beta = float(o.get("xfetch_beta", 1.0))
        self.enabled = bool(o.get("enabled", True))
        self._url: str | None = o.get("url")
        clock = o.get("clock") or system_clock
        self._clock = clock
        # The system clock's method only wraps time.monotonic: skip the extra call on hot paths.
        self._now = time.monotonic if clock is system_clock else clock.monotonic
        self._rng = o.get("rng") or random.Random()  # noqa: S311 - jitter, not secrets
        self._report_to_monitor = bool(o.get("report_to_monitor", False))
        self._breaker = CircuitBreaker(
            "cache",
            failure_threshold=int(o.get("circuit_failure_threshold", 3)),
            reset_timeout=float(o.get("circuit_reset_timeout", 2.0)),
            clock=clock,
        )
        self._channel = self._scheme.component_prefix() + "_inv"
        if self._url is not None:
            parse_backend_url(self._url, component="cache")

    def _ensure_configured(self) -> None:
        """Resolve what waits for first use: the environment (default instance), the monitor."""
        if self._configured:
            return
        self._configured = True
        metrics.register_cache(self)
        if self._options.get("from_env"):
            switch = os.environ.get("ENABLE_CACHING")
            if switch is not None and switch.strip().lower() in _FALSE_WORDS:
                self.enabled = False
            url = os.environ.get("REDIS_URL") or None
            if url is not None:
                parse_backend_url(url, component="cache")
                self._url = url
        if self._report_to_monitor:
            self._monitor_hook = _monitor_hook()

    @property
    def url(self) -> str:
        """The L2 URL in use (``memory://`` when L1 only)."""
        self._ensure_configured()
        return self._url or "memory://"

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
        entry = self._data.get((tenant, namespace, key))
        if entry is not None and entry.soft > self._now() and entry.epoch == entry.scope.epoch:
            entry.ref = True
            entry.stats.hits_l1 += 1
            hook = self._monitor_hook
            if hook is not None:
                hook(True, tenant_id=tenant)
            return entry.value
        return await self._get_slow(tenant, namespace, key, default)

    async def _get_slow(self, tenant: str | None, namespace: str, key: str, default: Any) -> Any:
        self._ensure_configured()
        scope = self._scope(tenant, namespace, key)
        stats = scope.stats
        if not self.enabled:
            stats.misses += 1
            self._report(False, tenant)
            return default
        lkey = (tenant, namespace, key)
        now = self._now()
        entry = self._data.get(lkey)
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
        found = await self._read_l2(scope, key)
        if found is not None:
            meta, value, size = found
            if self._clock.time() < meta.fresh_until:
                stats.hits_l2 += 1
                self._fill_l1(scope, lkey, key, value, meta, size, None)
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
        entry = self._data.get((tenant, namespace, key))
        if entry is not None and entry.soft > self._now() and entry.epoch == entry.scope.epoch:
            entry.ref = True
            entry.stats.hits_l1 += 1
            hook = self._monitor_hook
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
        return await self._get_or_set_slow(tenant, namespace, key, factory_func, policy)

    async def _get_or_set_slow(
        self,
        tenant: str | None,
        namespace: str,
        key: str,
        factory: Factory,
        policy: FreshnessPolicy,
    ) -> Any:
        self._ensure_configured()
        scope = self._scope(tenant, namespace, key)
        stats = scope.stats
        if not self.enabled:
            stats.misses += 1
            return await _call_factory(factory)
        lkey = (tenant, namespace, key)
        now = self._now()
        entry = self._data.get(lkey)
        stale: Entry | None = None
        if (
            entry is not None
            and entry.scope is scope
            and entry.epoch == scope.epoch
            and now < entry.l1_until
        ):
            if now < entry.fresh:
                # The XFetch deadline of this process passed: refresh early, serve the value now.
                entry.soft = min(entry.l1_until, entry.fresh)
                stats.hits_l1 += 1
                self._report(True, tenant)
                if not entry.refreshing and lkey not in self._inflight:
                    entry.refreshing = True
                    stats.early_refreshes += 1
                    self._spawn_refresh(scope, lkey, key, factory, policy)
                return entry.value
            if now < entry.swr:
                stats.stale_served += 1
                self._report(True, tenant)
                if not entry.refreshing and lkey not in self._inflight:
                    entry.refreshing = True
                    stats.early_refreshes += 1
                    self._spawn_refresh(scope, lkey, key, factory, policy)
                return entry.value
            if now < entry.sie:
                stale = entry
        task = self._inflight.get(lkey)
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            stats.coalesced += 1
            return await asyncio.shield(task)
        task = asyncio.ensure_future(self._load(scope, lkey, key, factory, policy, stale))
        self._inflight[lkey] = task
        task.add_done_callback(functools.partial(self._forget_inflight, lkey))
        return await asyncio.shield(task)

    def _forget_inflight(self, lkey: Hashable, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(lkey) is task:
            del self._inflight[lkey]
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody awaited is not logged as lost

    async def _load(
        self,
        scope: Scope,
        lkey: Hashable,
        key: str,
        factory: Factory,
        policy: FreshnessPolicy,
        stale: Entry | None,
    ) -> Any:
        stats = scope.stats
        tenant = scope.tenant
        stale_value: Any = stale.value if stale is not None else MISSING
        token: int | None = None
        backend = self._current_backend()
        if backend is not None:
            found = await self._read_l2(scope, key)
            if found is not None:
                meta, value, size = found
                wall = self._clock.time()
                if wall < meta.fresh_until:
                    stats.hits_l2 += 1
                    self._report(True, tenant)
                    entry = self._fill_l1(
                        scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh
                    )
                    if entry is not None and entry.soft <= self._now() < entry.fresh:
                        entry.refreshing = True
                        stats.early_refreshes += 1
                        self._spawn_refresh(scope, lkey, key, factory, policy, after=True)
                    return value
                if wall < meta.swr_until:
                    stats.stale_served += 1
                    self._report(True, tenant)
                    entry = self._fill_l1(
                        scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh
                    )
                    if entry is not None:
                        entry.refreshing = True
                    stats.early_refreshes += 1
                    self._spawn_refresh(scope, lkey, key, factory, policy, after=True)
                    return value
                if wall < meta.sie_until:
                    stale_value = value
            if policy.lease:
                loaded = await self._lease_or_wait(scope, key, policy)
                if isinstance(loaded, tuple):
                    meta, value, size = loaded
                    stats.hits_l2 += 1
                    self._report(True, tenant)
                    self._fill_l1(
                        scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh
                    )
                    return value
                token = loaded
        stats.misses += 1
        self._report(False, tenant)
        return await self._compute_and_store(
            scope, lkey, key, factory, policy, token, stale_value, notify=False
        )

    async def _compute_and_store(
        self,
        scope: Scope,
        lkey: Hashable,
        key: str,
        factory: Factory,
        policy: FreshnessPolicy,
        token: int | None,
        stale_value: Any,
        *,
        notify: bool,
    ) -> Any:
        started = self._now()
        try:
            value = await _call_factory(factory)
        except Exception:
            if token:
                await self._release_lease(scope, key, token)
            if stale_value is not MISSING:
                scope.stats.stale_served += 1
                return stale_value
            raise
        delta = max(self._now() - started, 0.0)
        ttl = policy.ttl if policy.ttl is not None else self.default_ttl
        if value is None and policy.negative_ttl is not None:
            ttl = policy.negative_ttl
        if ttl <= 0:
            if token:
                await self._release_lease(scope, key, token)
            return value
        tag_versions = await self._tag_snapshot(scope.tenant, policy.tags)
        if tag_versions is None:
            # Tag versions unknown (Redis down): serve the value, but do not cache it under
            # versions that may already be stale.
            if token:
                await self._release_lease(scope, key, token)
            return value
        meta = self._meta(
            ttl, policy.stale_while_revalidate, policy.stale_if_error, delta, tag_versions
        )
        prepared = await self._prepare_l2(scope, key, value, meta, strict=False)
        size = len(prepared[1]) if prepared is not None else None
        self._fill_l1(scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh)
        if prepared is not None:
            await self._store_l2(scope, key, prepared, meta, token=token, notify=notify)
        elif token:
            await self._release_lease(scope, key, token)
        return value

    def _spawn_refresh(
        self,
        scope: Scope,
        lkey: Hashable,
        key: str,
        factory: Factory,
        policy: FreshnessPolicy,
        *,
        after: bool = False,
    ) -> None:
        async def refresh() -> None:
            if after:
                # Started from inside the load task: let it finish and leave the in-flight map.
                await asyncio.sleep(0)
            token: int | None = None
            try:
                if self._current_backend() is not None and policy.lease:
                    acquired = await self._try_lease(scope, key)
                    if acquired == 0:
                        return  # another process is refreshing; its notice will reach us
                    token = acquired
                await self._compute_and_store(
                    scope, lkey, key, factory, policy, token, MISSING, notify=True
                )
            except Exception:
                scope.stats.errors += 1
                self._count_error("refresh")
                logger.debug("relaypoint cache: background refresh failed", exc_info=True)
                entry = self._data.get(lkey)
                if entry is not None:
                    entry.refreshing = False

        task = asyncio.ensure_future(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        scope = self._scope(tenant, namespace, key)
        if not self.enabled:
            return False
        tag_versions = await self._tag_snapshot(tenant, policy.tags)
        if tag_versions is None:
            self._l1.remove((tenant, namespace, key))
            return False
        meta = self._meta(
            ttl if ttl is not None else self.default_ttl,
            stale_while_revalidate,
            stale_if_error,
            0.0,
            tag_versions,
        )
        prepared = await self._prepare_l2(scope, key, value, meta, strict=True)
        size = len(prepared[1]) if prepared is not None else None
        self._fill_l1(scope, (tenant, namespace, key), key, value, meta, size, l1_ttl)
        if prepared is not None:
            await self._store_l2(scope, key, prepared, meta, token=None, notify=True)
        return True

    async def delete(
        self, key: str, *, tenant_id: str | None = None, namespace: str = DEFAULT_NAMESPACE
    ) -> bool:
        """Remove ``key`` here, in L2 and in every other process's L1. ``True`` if it existed."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scope(tenant, namespace, key)
        existed = self._l1.remove((tenant, namespace, key))
        base = await self._versioned_base(scope)
        if base is not None:
            notice = self._notice("k", scope, key)
            result = await self._l2(
                "delete", self._backend_or_raise().delete, base + escape_key_part(key), notice
            )
            if result is not _FAILED:
                existed = existed or bool(result)
        return existed

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
        scope = self._scope(tenant, namespace, pattern)
        regex = _glob_regex(pattern)
        removed = self._l1.remove_where(
            lambda e: e.scope is scope and regex.fullmatch(e.skey) is not None
        )
        base = await self._versioned_base(scope)
        if base is not None:
            backend = self._backend_or_raise()
            deleted = await self._l2(
                "index_delete",
                backend.index_delete,
                self._side_key(base, "i"),
                base,
                _redis_glob(pattern),
                scan_count,
                # Many small batches, each a short command: bound the whole walk, not each step.
                limit=self.op_timeout * 40,
            )
            await self._l2("publish", backend.publish, self._notice("p", scope, pattern))
            if deleted is not _FAILED:
                removed = max(removed, int(deleted))
        return removed

    async def invalidate_namespace(
        self, namespace: str = DEFAULT_NAMESPACE, *, tenant_id: str | None = None
    ) -> None:
        """Retire every entry of one tenant's namespace in O(1) (a version bump, no scan)."""
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scope(tenant, namespace, "")
        scope.invalidate()
        backend = self._current_backend()
        if backend is not None:
            await self._l2(
                "bump",
                backend.bump,
                self._version_key(scope),
                "n:" + escape_key_part(namespace),
                self._notice("n", scope, ""),
            )
            scope.remote_version = None

    async def flush_tenant(self, tenant_id: str) -> None:
        """Retire every entry of one tenant, all namespaces, in O(1) (a generation bump)."""
        validate_tenant_id(tenant_id)
        self._ensure_configured()
        self._invalidate_tenant_locally(tenant_id)
        backend = self._current_backend()
        if backend is not None:
            scope = self._scope(tenant_id, DEFAULT_NAMESPACE, "")
            await self._l2(
                "bump", backend.bump, self._version_key(scope), "g", self._notice("t", scope, "")
            )
            self._invalidate_tenant_locally(tenant_id)

    async def invalidate_tag(self, tag: str, *, tenant_id: str | None = None) -> None:
        """Retire every entry of one tenant carrying ``tag``, in every namespace, in O(1).

        The tag's version is incremented (entries written under the old version are no longer
        served from L2), and L1 copies here and in other processes are dropped.
        """
        tenant = tenant_id if tenant_id is not None else current_tenant()
        self._ensure_configured()
        scope = self._scope(tenant, DEFAULT_NAMESPACE, "")
        _check_tags((tag,))
        backend = self._current_backend()
        self._invalidate_tag_locally(tenant, tag)
        if backend is None:
            return  # L1 only: the tag index has dropped every tagged entry
        await self._l2(
            "bump",
            backend.bump,
            self._version_key(scope),
            "tg:" + escape_key_part(tag),
            self._notice("g", scope, tag),
        )
        self._invalidate_tag_locally(tenant, tag)

    def _invalidate_tag_locally(self, tenant: str | None, tag: str) -> None:
        for lkey in self._tag_index.pop((tenant, tag), ()):
            self._l1.remove(lkey)
        self._tag_versions.pop((tenant, tag), None)

    def _index_tag(self, tenant: str | None, tag: str, lkey: Hashable) -> None:
        keys = self._tag_index.setdefault((tenant, tag), set())
        keys.add(lkey)
        limit = 2 * max(self._l1.max_entries, 1)
        if len(keys) > limit:
            # Evicted entries leave their keys behind; keep only those still in L1.
            keys.intersection_update(self._data.keys())
        if len(self._tag_index) > limit:
            live = self._data.keys()
            for index_key, members in list(self._tag_index.items()):
                members.intersection_update(live)
                if not members:
                    del self._tag_index[index_key]

    async def _tag_snapshot(
        self, tenant: str | None, tags: tuple[str, ...]
    ) -> tuple[tuple[str, int], ...] | None:
        """Current versions of ``tags`` (``None`` if Redis cannot tell us)."""
        if not tags:
            return ()
        _check_tags(tags)
        versions = await self._tag_version_map(tenant, tags)
        if versions is None:
            return None
        return tuple((tag, versions[tag]) for tag in dict.fromkeys(tags))

    async def _tags_current(self, tenant: str | None, pairs: tuple[tuple[str, int], ...]) -> bool:
        versions = await self._tag_version_map(tenant, tuple(tag for tag, _ in pairs))
        return versions is not None and all(versions[tag] == version for tag, version in pairs)

    async def _tag_version_map(
        self, tenant: str | None, tags: tuple[str, ...]
    ) -> dict[str, int] | None:
        now = self._now()
        known: dict[str, int] = {}
        missing: list[str] = []
        for tag in dict.fromkeys(tags):
            cached = self._tag_versions.get((tenant, tag))
            if cached is not None and now - cached[1] < self.version_ttl:
                known[tag] = cached[0]
            elif self._current_backend() is None:
                known[tag] = 0  # L1 only: invalidation removes tagged entries physically
            else:
                missing.append(tag)
        if missing:
            backend = self._backend_or_raise()
            scope = self._scope(tenant, DEFAULT_NAMESPACE, "")
            fields = ["tg:" + escape_key_part(tag) for tag in missing]
            versions = await self._l2(
                "versions", backend.versions, self._version_key(scope), fields
            )
            if versions is _FAILED:
                return None
            if len(self._tag_versions) > _MAX_TAG_VERSIONS:
                self._tag_versions.clear()  # a cache of Redis state: re-read on demand
            for tag, version in zip(missing, versions, strict=True):
                self._tag_versions[(tenant, tag)] = (version, now)
                known[tag] = version
        return known

    def clear_local(self) -> None:
        """Drop this process's L1 (L2 and other processes are untouched)."""
        self._l1.clear()
        self._tag_index.clear()
        self._tag_versions.clear()
        for scope in self._scopes.values():
            scope.invalidate()

    def _invalidate_tenant_locally(self, tenant: str | None) -> None:
        for scope in list(self._scopes.values()):
            if scope.tenant == tenant:
                scope.invalidate()

    # -- introspection ---------------------------------------------------------------------------
    async def stats(self) -> CacheStats:
        """Hit rates per namespace, L1 size and L2 health."""
        subscribed = self._subscribed is not None and self._subscribed.is_set()
        return CacheStats(
            namespaces={name: NamespaceSnapshot.of(s) for name, s in self._ns_stats.items()},
            l1_entries=len(self._l1),
            l1_bytes=self._l1.bytes,
            l1_evictions=self._l1.evictions,
            l2_enabled=self._url is not None and not self._url.startswith("memory"),
            circuit_state=self._breaker.state.value,
            subscribed=subscribed,
            errors=dict(self._errors),
        )

    async def wait_ready(self, wait: float = 5.0) -> bool:
        """Connect to L2 and wait until invalidation notices are being received."""
        self._ensure_configured()
        if self._current_backend() is None:
            return True
        assert self._subscribed is not None
        try:
            async with asyncio.timeout(wait):
                await self._subscribed.wait()
        except TimeoutError:
            return False
        return True

    async def drain(self) -> None:
        """Wait for the background refreshes started so far (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the listener and background refreshes, close Redis connections."""
        for task in list(self._tasks):
            task.cancel()
        backend, self._backend = self._backend, None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        if backend is not None:
            try:
                await backend.close()
            except Exception:
                logger.debug("relaypoint cache: error while closing Redis", exc_info=True)
        self._backend_loop = None

    # -- internals: scopes, keys, L1 -----------------------------------------------------------
    def _scope(self, tenant: str | None, namespace: str, key: str) -> Scope:
        scope = self._scopes.get((tenant, namespace))
        if scope is not None:
            if not isinstance(key, str):
                raise CacheConfigurationError(f"cache keys are strings, got {type(key).__name__}")
            return scope
        if tenant is not None:
            validate_tenant_id(tenant)
        if not isinstance(namespace, str) or not _NAMESPACE_PATTERN.match(namespace):
            raise CacheConfigurationError(
                f"namespace {namespace!r} is not allowed: use 1-200 printable characters"
            )
        if not isinstance(key, str):
            raise CacheConfigurationError(f"cache keys are strings, got {type(key).__name__}")
        stats = self._ns_stats.get(namespace)
        if stats is None:
            name = namespace if len(self._ns_stats) < _MAX_NAMESPACE_STATS else "other"
            stats = self._ns_stats.setdefault(name, NamespaceStats(name))
        scope = Scope(tenant, namespace, stats)
        scope.redis_base = self._scheme.tenant_prefix(tenant)
        if len(self._scopes) >= _MAX_SCOPES:
            # Retire the oldest scope; bumping its epoch retires its L1 entries with it.
            _, oldest = next(iter(self._scopes.items()))
            oldest.invalidate()
            del self._scopes[(oldest.tenant, oldest.namespace)]
        self._scopes[(tenant, namespace)] = scope
        return scope

    def _meta(
        self,
        ttl: float,
        swr: float,
        sie: float,
        delta: float,
        tags: tuple[tuple[str, int], ...] = (),
    ) -> EntryMeta:
        if self.ttl_jitter:
            ttl *= 1.0 - self.ttl_jitter * self._rng.random()
        now = self._clock.time()
        fresh = now + ttl
        return EntryMeta(now, fresh, fresh + swr, fresh + sie, delta, tags)

    def _fill_l1(
        self,
        scope: Scope,
        lkey: Hashable,
        key: str,
        value: Any,
        meta: EntryMeta,
        size: int | None,
        l1_ttl: float | None,
        early_refresh: bool | None = None,
    ) -> Entry | None:
        now = self._now()
        offset = now - self._clock.time()
        fresh = meta.fresh_until + offset
        swr = meta.swr_until + offset
        sie = meta.sie_until + offset
        stale_end = max(fresh, swr, sie)
        if self._url is None or self._url.startswith("memory"):
            l1_until = stale_end  # L1 is the only level: it keeps the value for its full life
        else:
            l1_until = min(now + (l1_ttl if l1_ttl is not None else self.l1_ttl), stale_end)
        soft = min(l1_until, fresh)
        early = self.early_refresh if early_refresh is None else early_refresh
        if early and meta.delta > 0:
            # XFetch: refresh early with a probability that grows as expiry nears and with the
            # value's compute time; each process draws its own deadline.
            soft = min(
                soft, fresh + meta.delta * self.xfetch_beta * math.log(1.0 - self._rng.random())
            )
        entry = Entry(
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
        if l1_until <= now or not self._l1.put(lkey, entry, now):
            return None
        for tag, _ in meta.tags:
            self._index_tag(scope.tenant, tag, lkey)
        return entry

    def _version_key(self, scope: Scope) -> str:
        return scope.redis_base + "!v"

    async def _versioned_base(self, scope: Scope) -> str | None:
        """``rp:cache:{t==acme}:<gen>.<nsver>:<ns>:``, or ``None`` when L2 is unavailable."""
        backend = self._current_backend()
        if backend is None:
            return None
        now = self._now()
        if scope.remote_version is None or now - scope.remote_checked >= self.version_ttl:
            epoch = scope.epoch
            versions = await self._l2(
                "versions",
                backend.versions,
                self._version_key(scope),
                ["g", "n:" + escape_key_part(scope.namespace)],
            )
            if versions is _FAILED:
                return None
            version = f"{versions[0]}.{versions[1]}"
            if scope.remote_version is not None and version != scope.remote_version:
                # A bump whose notice we missed: what L1 holds for this scope is retired.
                scope.epoch += 1
            scope.remote_version = version
            # If a notice arrived while we asked, the answer may predate it: ask again next time.
            scope.remote_checked = now if scope.epoch == epoch else -math.inf
        version = scope.remote_version or "0.0"
        cached_version, base = scope.base_cache
        if cached_version != version:
            base = versioned_base(scope.redis_base, version, scope.namespace)
            scope.base_cache = (version, base)
        return base

    # -- internals: L2 ---------------------------------------------------------------------------
    def _current_backend(self) -> L2Backend | None:
        """The backend of the running event loop (created lazily, recreated for a new loop)."""
        if self._url is None or self._url.startswith("memory"):
            return None
        loop = asyncio.get_running_loop()
        if self._backend is not None and self._backend_loop is loop:
            return self._backend
        self._drop_backend()
        backend = create_backend(self._url, channel=self._channel, op_timeout=self.op_timeout)
        if backend is None:
            return None
        self._backend = backend
        self._backend_loop = loop
        self._subscribed = asyncio.Event()
        self._listener = loop.create_task(self._listen(backend, self._subscribed))
        return backend

    def _backend_or_raise(self) -> L2Backend:
        backend = self._current_backend()
        if backend is None:
            raise CacheError("no L2 backend is configured")
        return backend

    def _drop_backend(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.done():
            with contextlib.suppress(RuntimeError):  # its loop may be closed already
                listener.cancel()
        self._backend = None
        self._backend_loop = None
        for scope in self._scopes.values():
            scope.remote_version = None

    async def _l2(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, limit: float | None = -1.0
    ) -> T | Any:
        """Run one L2 call under the breaker and a timeout; ``_FAILED`` instead of raising."""
        breaker = self._breaker
        if not breaker.allow():
            return _FAILED
        started = time.perf_counter()
        try:
            if limit is None:
                result = await fn(*args)
            else:
                async with asyncio.timeout(self.op_timeout if limit < 0 else limit):
                    result = await fn(*args)
        except Exception as exc:
            breaker.record_failure()
            self._count_error("l2")
            logger.debug("relaypoint cache: L2 %s failed: %r", op, exc)
            return _FAILED
        breaker.record_success()
        metrics.observe_l2_latency(op, time.perf_counter() - started)
        return result

    async def _read_l2(self, scope: Scope, key: str) -> tuple[EntryMeta, Any, int] | None:
        base = await self._versioned_base(scope)
        if base is None:
            return None
        redis_key = base + escape_key_part(key)
        data = await self._l2("get", self._backend_or_raise().get, redis_key)
        if data is _FAILED or data is None:
            return None
        try:
            meta, value = unpack_entry(self._serializer, redis_key.encode(), data)
        except SerializationError as exc:
            scope.stats.errors += 1
            self._count_error("serialization")
            logger.warning("relaypoint cache: refusing stored entry: %s", exc)
            await self._l2("delete", self._backend_or_raise().delete, redis_key, None)
            return None
        if meta.tags and not await self._tags_current(scope.tenant, meta.tags):
            return None  # a tag of this entry was invalidated after it was written
        return meta, value, len(data)

    async def _prepare_l2(
        self, scope: Scope, key: str, value: Any, meta: EntryMeta, *, strict: bool
    ) -> tuple[str, bytes] | None:
        """The Redis key and signed/encoded entry, or ``None`` (no L2, L2 down, not encodable)."""
        if self._current_backend() is None:
            return None
        try:
            base = await self._versioned_base(scope)
            redis_key = (base or "") + escape_key_part(key)
            payload = pack_entry(self._serializer, redis_key.encode(), meta, value)
        except SerializationError as exc:
            if strict:
                raise
            scope.stats.errors += 1
            self._count_error("serialization")
            logger.warning("relaypoint cache: value kept in L1 only: %s", exc)
            return None
        return None if base is None else (redis_key, payload)

    async def _store_l2(
        self,
        scope: Scope,
        key: str,
        prepared: tuple[str, bytes],
        meta: EntryMeta,
        *,
        token: int | None,
        notify: bool,
    ) -> None:
        redis_key, payload = prepared
        backend = self._backend_or_raise()
        ttl_ms = max(math.ceil((meta.stale_end - self._clock.time()) * 1000), 1)
        member = escape_key_part(key)
        base = redis_key[: len(redis_key) - len(member)]
        await self._l2(
            "set",
            backend.store,
            redis_key,
            payload,
            ttl_ms,
            (self._side_key(base, "i"), member, base),
            (self._lease_key(base, key), token) if token else None,
            self._notice("k", scope, key) if notify else None,
        )

    @staticmethod
    def _side_key(base: str, kind: str) -> str:
        """A helper key beside a versioned base, same hash tag: ``rp:cache:{t==x}:!<kind>:<ver>:<ns>:``."""
        scope_base, _, versioned = base.rpartition("}:")
        return scope_base + "}:!" + kind + ":" + versioned

    def _lease_key(self, base: str, key: str) -> str:
        return self._side_key(base, "l") + escape_key_part(key)

    async def _try_lease(self, scope: Scope, key: str) -> int | None:
        """A fencing token, 0 when another process holds the lease, ``None`` if L2 is down."""
        base = await self._versioned_base(scope)
        if base is None:
            return None
        backend = self._backend_or_raise()
        token = await self._l2(
            "lease",
            backend.acquire_lease,
            self._lease_key(base, key),
            scope.redis_base + "!f",
            int(self.lease_ttl * 1000),
        )
        return None if token is _FAILED else int(token)

    async def _release_lease(self, scope: Scope, key: str, token: int) -> None:
        base = await self._versioned_base(scope)
        if base is not None:
            await self._l2(
                "release", self._backend_or_raise().release_lease, self._lease_key(base, key), token
            )

    async def _lease_or_wait(
        self, scope: Scope, key: str, policy: FreshnessPolicy
    ) -> tuple[EntryMeta, Any, int] | int | None:
        """Take the lease (a token), or wait for its holder's value (the value), bounded."""
        deadline = time.monotonic() + self.lease_wait
        waited = False
        while True:
            token = await self._try_lease(scope, key)
            if token:
                # Double-check: the previous holder may have stored its value between our read
                # and our acquisition; computing again would be a second factory call.
                found = await self._read_l2(scope, key)
                if found is not None and self._clock.time() < found[0].fresh_until:
                    await self._release_lease(scope, key, token)
                    return found
                return token
            if token is None:
                return None
            if not waited:
                waited = True
                scope.stats.lock_waits += 1
            pause = 0.002
            while True:
                if time.monotonic() >= deadline:
                    return None  # the holder is too slow: compute without the lease
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                found = await self._read_l2(scope, key)
                if found is not None and self._clock.time() < found[0].fresh_until:
                    return found
                base = await self._versioned_base(scope)
                if base is None:
                    return None
                held = await self._l2(
                    "lease", self._backend_or_raise().lease_held, self._lease_key(base, key)
                )
                if held is _FAILED:
                    return None
                if not held:
                    break  # the holder failed or its lease expired: try to take it over

    # -- internals: invalidation notices -------------------------------------------------------
    def _notice(self, op: str, scope: Scope, arg: str) -> bytes:
        return json.dumps([self._origin, op, scope.tenant, scope.namespace, arg]).encode()

    def _on_notice(self, data: bytes) -> None:
        try:
            origin, op, tenant, namespace, arg = json.loads(data)
        except (ValueError, TypeError):
            self._count_error("notice")
            return
        if origin == self._origin:
            return
        if op == "k":
            self._l1.remove((tenant, namespace, arg))
        elif op == "p":
            scope = self._scopes.get((tenant, namespace))
            if scope is not None:
                regex = _glob_regex(arg)
                self._l1.remove_where(
                    lambda e: e.scope is scope and regex.fullmatch(e.skey) is not None
                )
        elif op == "n":
            scope = self._scopes.get((tenant, namespace))
            if scope is not None:
                scope.invalidate()
        elif op == "t":
            self._invalidate_tenant_locally(tenant)
        elif op == "g":
            self._invalidate_tag_locally(tenant, arg)

    def _on_subscribed(self, event: asyncio.Event) -> None:
        # Notices sent while we were not listening are lost: forget everything L1 holds.
        self.clear_local()
        if self._subscription_lost_logged:
            logger.warning("relaypoint cache: invalidation subscription restored")
            self._subscription_lost_logged = False
        event.set()

    async def _listen(self, backend: L2Backend, event: asyncio.Event) -> None:
        pause = 0.05
        while True:
            try:
                await backend.listen(self._on_notice, lambda: self._on_subscribed(event))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event.clear()
                self.clear_local()
                self._count_error("subscription")
                if not self._subscription_lost_logged:
                    self._subscription_lost_logged = True
                    logger.warning(
                        "relaypoint cache: invalidation subscription lost (%s); L1 flushed, "
                        "retrying",
                        exc,
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
            else:
                pause = 0.05

    # -- internals: accounting -----------------------------------------------------------------
    def _count_error(self, kind: str) -> None:
        self._errors[kind] = self._errors.get(kind, 0) + 1

    def _report(self, hit: bool, tenant: str | None) -> None:
        hook = self._monitor_hook
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
