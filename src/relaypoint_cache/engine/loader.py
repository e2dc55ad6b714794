"""The miss path: serve stale or refresh early, coalesce, read L2, take the lease, compute, store.

One load per key runs at a time in this process (`.singleflight`) and, with a lease, in the
whole deployment (`.leases`). A value past its XFetch deadline or within its
stale-while-revalidate window is served at once while one background refresh runs; a value within
its stale-if-error window is served only if the factory raises.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Hashable
from typing import Any, Final

from relaypoint_cache.engine.freshness import (
    Freshness,
    entry_meta,
    freshness,
    local_entry,
    stored_ttl,
)
from relaypoint_cache.engine.invalidation import Invalidation
from relaypoint_cache.engine.l2 import L2Access
from relaypoint_cache.engine.leases import Leases
from relaypoint_cache.engine.settings import SettingsCell
from relaypoint_cache.engine.singleflight import SingleFlight
from relaypoint_cache.engine.tags import TagRegistry
from relaypoint_cache.envelope import EntryMeta
from relaypoint_cache.l1 import Entry, L1Store, Scope
from relaypoint_cache.policy import FreshnessPolicy

__all__ = ["Factory", "Loader", "call_factory"]

logger = logging.getLogger("relaypoint.cache")

Factory = Callable[[], Any]


_NO_VALUE: Final[Any] = object()
"""No stale value to fall back on."""


async def call_factory(factory: Factory) -> Any:
    """Call a sync or async factory (or one returning an awaitable)."""
    result = factory()
    if inspect.isawaitable(result):
        result = await result
    return result


class Loader:
    """Loads missing and expiring values for one cache, and writes them to L1 and L2."""

    def __init__(
        self,
        settings: SettingsCell,
        l1: L1Store,
        l2: L2Access,
        leases: Leases,
        tags: TagRegistry,
        invalidation: Invalidation,
        *,
        report: Callable[[bool, str | None], None],
        count_error: Callable[[str], None],
    ) -> None:
        self._shared = settings
        self._l1 = l1
        self._l2 = l2
        self._leases = leases
        self._tags = tags
        self._invalidation = invalidation
        self._report = report
        self._count_error = count_error
        self._inflight = SingleFlight()
        self.tasks: set[asyncio.Task[Any]] = set()
        """Background refreshes still running."""

    async def get_or_set(
        self, scope: Scope, key: str, factory: Factory, policy: FreshnessPolicy
    ) -> Any:
        """The miss path of ``get_or_set`` and ``@cached`` (the L1 hit path stays in the facade)."""
        stats = scope.stats
        tenant = scope.tenant
        lkey = (tenant, scope.namespace, key)
        now = self._shared.current.now()
        entry = self._l1.data.get(lkey)
        stale: Entry | None = None
        if (
            entry is not None
            and entry.scope is scope
            and entry.epoch == scope.epoch
            and now < entry.l1_until
        ):
            state = freshness(now, entry.fresh, entry.swr, entry.sie)
            if state is Freshness.FRESH or state is Freshness.STALE_WHILE_REVALIDATE:
                # Serve the value now and refresh it once in the background: either this
                # process's XFetch deadline passed, or the value is in its stale window.
                if state is Freshness.FRESH:
                    entry.soft = min(entry.l1_until, entry.fresh)
                    stats.hits_l1 += 1
                else:
                    stats.stale_served += 1
                self._report(True, tenant)
                if not entry.refreshing and lkey not in self._inflight:
                    entry.refreshing = True
                    stats.early_refreshes += 1
                    self._spawn_refresh(scope, lkey, key, factory, policy)
                return entry.value
            if state is Freshness.STALE_IF_ERROR:
                stale = entry
        task = self._inflight.running(lkey)
        if task is not None:
            stats.coalesced += 1
            return await asyncio.shield(task)
        task = self._inflight.start(lkey, self._load(scope, lkey, key, factory, policy, stale))
        return await asyncio.shield(task)

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
        stale_value: Any = stale.value if stale is not None else _NO_VALUE
        token: int | None = None
        backend = self._l2.current()
        if backend is not None:
            found = await self._tags.read_entry(scope, key)
            if found is not None:
                meta, value, size = found
                state = freshness(
                    self._shared.current.clock.time(),
                    meta.fresh_until,
                    meta.swr_until,
                    meta.sie_until,
                )
                if state is Freshness.FRESH:
                    stats.hits_l2 += 1
                    self._report(True, tenant)
                    entry = self.fill_l1(
                        scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh
                    )
                    if entry is not None and entry.soft <= self._shared.current.now() < entry.fresh:
                        entry.refreshing = True
                        stats.early_refreshes += 1
                        self._spawn_refresh(scope, lkey, key, factory, policy, after=True)
                    return value
                if state is Freshness.STALE_WHILE_REVALIDATE:
                    stats.stale_served += 1
                    self._report(True, tenant)
                    entry = self.fill_l1(
                        scope, lkey, key, value, meta, size, policy.l1_ttl, policy.early_refresh
                    )
                    if entry is not None:
                        entry.refreshing = True
                    stats.early_refreshes += 1
                    self._spawn_refresh(scope, lkey, key, factory, policy, after=True)
                    return value
                if state is Freshness.STALE_IF_ERROR:
                    stale_value = value
            if policy.lease:
                loaded = await self._leases.acquire_or_wait(scope, key)
                if isinstance(loaded, tuple):
                    meta, value, size = loaded
                    stats.hits_l2 += 1
                    self._report(True, tenant)
                    self.fill_l1(
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
        started = self._shared.current.now()
        try:
            value = await call_factory(factory)
        except Exception:
            await self._leases.release(scope, key, token)
            if stale_value is not _NO_VALUE:
                scope.stats.stale_served += 1
                return stale_value
            raise
        delta = max(self._shared.current.now() - started, 0.0)
        ttl = stored_ttl(policy, value, self._shared.current.default_ttl)
        if ttl <= 0:
            await self._leases.release(scope, key, token)
            return value
        tag_versions = await self._tags.snapshot(scope.tenant, policy.tags)
        if tag_versions is None:
            # Tag versions unknown (Redis down): serve the value, but do not cache it under
            # versions that may already be stale.
            await self._leases.release(scope, key, token)
            return value
        meta = self.new_meta(
            ttl, policy.stale_while_revalidate, policy.stale_if_error, delta, tag_versions
        )
        await self.write(
            scope,
            lkey,
            key,
            value,
            meta,
            l1_ttl=policy.l1_ttl,
            early_refresh=policy.early_refresh,
            token=token,
            notify=notify,
            strict=False,
        )
        return value

    async def write(
        self,
        scope: Scope,
        lkey: Hashable,
        key: str,
        value: Any,
        meta: EntryMeta,
        *,
        l1_ttl: float | None,
        early_refresh: bool | None,
        token: int | None,
        notify: bool,
        strict: bool,
    ) -> None:
        """Write a value to L1 and (fenced by ``token``) to L2, releasing the lease if L2 is out.

        ``notify``: tell other processes to drop their copies. ``strict``: raise for a value the
        serializer cannot encode instead of keeping it in L1 only.
        """
        prepared = await self._l2.prepare(scope, key, value, meta, strict=strict)
        size = len(prepared[1]) if prepared is not None else None
        self.fill_l1(scope, lkey, key, value, meta, size, l1_ttl, early_refresh)
        if prepared is not None:
            notice = self._invalidation.notice("k", scope, key) if notify else None
            await self._l2.store(key, prepared, meta, token=token, notice=notice)
        else:
            await self._leases.release(scope, key, token)

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
                if self._l2.current() is not None and policy.lease:
                    acquired = await self._leases.try_acquire(scope, key)
                    if acquired == 0:
                        return  # another process is refreshing; its notice will reach us
                    token = acquired
                await self._compute_and_store(
                    scope, lkey, key, factory, policy, token, _NO_VALUE, notify=True
                )
            except Exception:
                scope.stats.errors += 1
                self._count_error("refresh")
                logger.debug("relaypoint cache: background refresh failed", exc_info=True)
                entry = self._l1.data.get(lkey)
                if entry is not None:
                    entry.refreshing = False

        task = asyncio.ensure_future(refresh())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def new_meta(
        self,
        ttl: float,
        swr: float,
        sie: float,
        delta: float,
        tags: tuple[tuple[str, int], ...] = (),
    ) -> EntryMeta:
        return entry_meta(
            ttl,
            swr,
            sie,
            delta,
            tags,
            wall_now=self._shared.current.clock.time(),
            jitter=self._shared.current.ttl_jitter,
            rng=self._shared.current.rng,
        )

    def fill_l1(
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
        if self._l1.max_entries <= 0:
            self._l1.remove(lkey)  # an L1 that holds nothing: skip building the entry
            return None
        now = self._shared.current.now()
        early = self._shared.current.early_refresh if early_refresh is None else early_refresh
        entry = local_entry(
            scope,
            key,
            value,
            meta,
            size,
            now=now,
            wall_now=self._shared.current.clock.time(),
            # With no L2, L1 is the only level: it keeps the value for its full life.
            l1_ttl=(l1_ttl if l1_ttl is not None else self._shared.current.l1_ttl)
            if self._shared.current.has_l2
            else None,
            xfetch_beta=self._shared.current.xfetch_beta if early else None,
            rng=self._shared.current.rng,
        )
        if entry.l1_until <= now or not self._l1.put(lkey, entry, now):
            return None
        for tag, _ in meta.tags:
            self._tags.add(scope.tenant, tag, lkey)
        return entry
