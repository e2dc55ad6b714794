"""``TenantDirectory``: tenants by slug or id, cached and bounded; the SDK's ``PlanTierSource``.

Every request that needs a tenant's snapshot (a page naming ``/dashboard/<slug>``, the rate
limiter asking a verified tenant's plan tier) goes through one of these instead of a query:

* found tenants are kept for ``ttl`` seconds, at most ``size`` of them;
* unknown keys are remembered for ``negative_ttl`` seconds, at most ``negative_size`` of them,
  so a flood of made-up slugs costs one query per slug and bounded memory (10,000 unknown
  ``/dashboard/<slug>`` requests leave at most ``negative_size`` small entries, which expire);
* keys that cannot be a tenant (longer than 128 characters, unprintable) are answered without
  a query and without an entry.

**How soon a plan change is seen.** The process that changes a plan through
``Tenancy.change_plan`` forgets its entry at once. Every other process sees it when its entry
expires, i.e. within ``ttl`` seconds (5 by default): a bounded delay instead of a message bus,
which is the right trade for a value that changes a few times in a tenant's life.

**Refreshing off the request path.** With ``stale_ttl > 0`` an expired entry is served for up to
``stale_ttl`` more seconds while one background task reloads it (`SnapshotCache`), so a steady
stream of requests never waits for the database; the read that finds the entry expired still
gets the old snapshot, the reads after the reload the new one. Concurrent reads of a missing key
share one query either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.tenant_ids import TenantSlug
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy.install_hint import explain_missing_tables
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.records import TenantInfo
from relaypoint_tenancy.snapshots import MISS, SnapshotCache

__all__ = ["TenantDirectory"]

_MAX_KEY = 128


class TenantDirectory:
    """Cached ``TenantInfo`` lookups by slug or id; implements ``PlanTierSource``.

    Args:
        engine: The control-plane engine.
        ttl: Seconds a found tenant is reused (the bound on how stale a plan may be).
        negative_ttl: Seconds an unknown key is remembered.
        size: Most found tenants kept.
        negative_size: Most unknown keys kept.
        clock: The clock the caches expire by.
        stale_ttl: Seconds after ``ttl`` (or ``negative_ttl``) an entry is still served while a
            background task reloads it; 0 (the default) reloads on the read.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = 5.0,
        negative_ttl: float = 5.0,
        size: int = 10_000,
        negative_size: int = 10_000,
        clock: Clock = system_clock,
        stale_ttl: float = 0.0,
    ) -> None:
        self._engine = engine
        self._cache: SnapshotCache[str, TenantInfo] = SnapshotCache(
            self._query,
            ttl=ttl,
            negative_ttl=negative_ttl,
            stale_ttl=stale_ttl,
            size=size,
            negative_size=negative_size,
            clock=clock,
            load_many=self._query_many,
        )

    @property
    def queries(self) -> int:
        """How many queries this directory has sent."""
        return self._cache.loads

    @property
    def cached_entries(self) -> int:
        """How many entries (found and unknown) the caches hold now."""
        return len(self._cache)

    async def get(self, key: str) -> TenantInfo | None:
        """The tenant whose slug or id is ``key``, or ``None``.

        Args:
            key: A tenant slug or id (client input is fine: it is bounded and parameterised).

        Returns:
            The tenant's snapshot, or ``None`` when no such tenant exists.

        Raises:
            TenancyConfigurationError: The tenancy tables are not installed.
        """
        if type(key) is str:  # only checked keys are ever cached: a hit needs no check
            answer = self._cache.get_nowait(key)
            if answer is not MISS:
                return answer
        if not is_safe_id(key, max_length=_MAX_KEY):  # cannot be a slug or an id: no query
            return None
        return await self._cache.get(key)

    def peek(self, key: str) -> TenantInfo | None:
        """The tenant whose slug or id is ``key`` if the cache answers it without waiting.

        The same answer `get` gives (a stale snapshot starts its background refresh), but
        without a coroutine, for the hot path of a cached read; ``None`` means "not known to
        exist without a lookup": await `get` then.

        Args:
            key: A tenant slug or id.

        Returns:
            The cached snapshot, or ``None``.
        """
        answer = self._cache.get_nowait(key) if type(key) is str else MISS
        return None if answer is MISS else answer

    async def _query(self, key: str) -> TenantInfo | None:
        with explain_missing_tables():
            async with AsyncSession(self._engine) as session:
                row = (
                    await session.execute(
                        select(Tenant).where(or_(Tenant.slug == key, Tenant.id == key))
                    )
                ).scalar_one_or_none()
                tenant = None if row is None else TenantInfo.from_row(row)
        if tenant is not None:
            # Stored under both names; the loading key's own entry is stored by the cache.
            other = tenant.id if key == tenant.slug else tenant.slug
            self._cache.remember(other, tenant)
        return tenant

    async def _query_many(self, keys: Sequence[str]) -> dict[str, TenantInfo | None]:
        """Background refreshes falling due together: one SELECT for all of them."""
        with explain_missing_tables():
            async with AsyncSession(self._engine) as session:
                statement = select(Tenant).where(or_(Tenant.slug.in_(keys), Tenant.id.in_(keys)))
                rows = (await session.execute(statement)).scalars().all()
                tenants = [TenantInfo.from_row(row) for row in rows]
        by_name: dict[str, TenantInfo | None] = dict.fromkeys(keys)
        for tenant in tenants:
            for name in (tenant.slug, tenant.id):
                if name in by_name:
                    by_name[name] = tenant
                else:
                    self._cache.remember(name, tenant)
        return by_name

    def remember(self, tenant: TenantInfo) -> None:
        """Cache ``tenant`` under its slug and id (after this process changed it).

        Args:
            tenant: The fresh snapshot.
        """
        self._cache.put(tenant.slug, tenant)
        self._cache.put(tenant.id, tenant)

    def forget(self, *keys: str) -> None:
        """Drop the entries of ``keys`` (slugs or ids).

        Args:
            *keys: The keys to drop.
        """
        for key in keys:
            tenant = self._cache.forget(key)
            if tenant is not None:
                self._cache.forget(tenant.slug)
                self._cache.forget(tenant.id)

    def clear(self) -> None:
        """Drop every entry."""
        self._cache.clear()

    async def settle(self) -> None:
        """Wait for the lookups and background refreshes in flight to finish."""
        await self._cache.settle()

    async def aclose(self) -> None:
        """Cancel the background refreshes still running (before the engine is disposed)."""
        await self._cache.aclose()

    async def plan_tier(self, tenant: TenantSlug) -> str | None:
        """The tenant's plan tier name (``PlanTierSource``).

        Args:
            tenant: The tenant's slug.

        Returns:
            ``"FREE"``, ``"PROFESSIONAL"``, ... or ``None`` for an unknown tenant.
        """
        info = self.peek(tenant)
        if info is None:
            info = await self.get(tenant)
        return None if info is None else info.plan_tier.value
