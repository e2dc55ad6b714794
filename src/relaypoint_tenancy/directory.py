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
"""

from __future__ import annotations

from cachetools import TTLCache
from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.tenant_ids import TenantSlug
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy.install_hint import not_installed
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.records import TenantInfo

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
    ) -> None:
        self._engine = engine
        self._found: TTLCache[str, TenantInfo] = TTLCache(size, ttl, timer=clock.monotonic)
        self._unknown: TTLCache[str, bool] = TTLCache(
            negative_size, negative_ttl, timer=clock.monotonic
        )
        self.queries = 0

    @property
    def cached_entries(self) -> int:
        """How many entries (found and unknown) the caches hold now."""
        return len(self._found) + len(self._unknown)

    async def get(self, key: str) -> TenantInfo | None:
        """The tenant whose slug or id is ``key``, or ``None``.

        Args:
            key: A tenant slug or id (client input is fine: it is bounded and parameterised).

        Returns:
            The tenant's snapshot, or ``None`` when no such tenant exists.

        Raises:
            TenancyConfigurationError: The tenancy tables are not installed.
        """
        if not is_safe_id(key, max_length=_MAX_KEY):  # cannot be a slug or an id: no query
            return None
        found = self._found.get(key)
        if found is not None:
            return found
        if key in self._unknown:
            return None
        self.queries += 1
        try:
            async with AsyncSession(self._engine) as session:
                row = (
                    await session.execute(
                        select(Tenant).where(or_(Tenant.slug == key, Tenant.id == key))
                    )
                ).scalar_one_or_none()
                tenant = None if row is None else TenantInfo.from_row(row)
        except DBAPIError as exc:
            hint = not_installed(exc)
            if hint is not None:
                raise hint from exc
            raise
        if tenant is None:
            self._unknown[key] = True
            return None
        self.remember(tenant)
        return tenant

    def remember(self, tenant: TenantInfo) -> None:
        """Cache ``tenant`` under its slug and id (after this process changed it).

        Args:
            tenant: The fresh snapshot.
        """
        self._found[tenant.slug] = tenant
        self._found[tenant.id] = tenant
        self._unknown.pop(tenant.slug, None)
        self._unknown.pop(tenant.id, None)

    def forget(self, *keys: str) -> None:
        """Drop the entries of ``keys`` (slugs or ids).

        Args:
            *keys: The keys to drop.
        """
        for key in keys:
            tenant = self._found.pop(key, None)
            self._unknown.pop(key, None)
            if tenant is not None:
                self._found.pop(tenant.slug, None)
                self._found.pop(tenant.id, None)

    def clear(self) -> None:
        """Drop every entry."""
        self._found.clear()
        self._unknown.clear()

    async def plan_tier(self, tenant: TenantSlug) -> str | None:
        """The tenant's plan tier name (``PlanTierSource``).

        Args:
            tenant: The tenant's slug.

        Returns:
            ``"FREE"``, ``"PROFESSIONAL"``, ... or ``None`` for an unknown tenant.
        """
        info = await self.get(tenant)
        return None if info is None else info.plan_tier.value
