"""``Tenancy``: one object that wires engine, strategy, manager, resolver and user directory.

Built from `TenancySettings` (environment variables ``DATABASE_URL``,
``TENANCY_STRATEGY``, ``TENANCY_ROW_LEVEL_SECURITY``, ``TENANCY_BASE_DOMAIN``, ...), so the
isolation strategy is a configuration choice, not a code change.
"""

from __future__ import annotations

from relaypoint_tenancy import _sql  # noqa: F401  - first: names the extra when SQLAlchemy is missing

# isort: split

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import MissingExtraError
from relaypoint_core.optional import database_extra
from relaypoint_core.plan_tiers import PlanTierSource
from relaypoint_tenancy.directory import TenantDirectory
from relaypoint_tenancy.errors import QuotaExceeded, TenantNotFoundError
from relaypoint_tenancy.manager import TenantManager
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog
from relaypoint_tenancy.records import TenantInfo, UsageInfo
from relaypoint_tenancy.resolution import (
    SqlTenantLookup,
    TenantResolver,
)
from relaypoint_tenancy.settings import TenancySettings, async_database_url
from relaypoint_tenancy.strategies import (
    DatabasePerTenantStrategy,
    IsolationStrategy,
    SchemaPerTenantStrategy,
    SharedTableStrategy,
    TenantRef,
    default_strategy,
)
from relaypoint_tenancy.users import SqlUserDirectory

__all__ = ["Tenancy", "TenancySettings", "async_database_url"]


class Tenancy:
    """The wired-up tenancy of one application."""

    def __init__(
        self,
        engine: AsyncEngine,
        strategy: IsolationStrategy | None = None,
        *,
        catalog: PlanCatalog = DEFAULT_PLAN_CATALOG,
        clock: Clock = system_clock,
        settings: TenancySettings | None = None,
    ) -> None:
        self.engine = engine
        self.strategy = strategy or default_strategy(engine)
        self.catalog = catalog
        self.clock = clock
        self.settings = settings or TenancySettings.load(DATABASE_URL=str(engine.url))
        self.tenants = TenantDirectory(
            engine,
            ttl=self.settings.tenant_cache_ttl,
            stale_ttl=self.settings.cache_stale_ttl,
            clock=clock,
        )
        self._resolvers: list[TenantResolver] = []

    @classmethod
    def from_settings(
        cls,
        settings: TenancySettings | None = None,
        *,
        clock: Clock = system_clock,
        **engine_options: Any,
    ) -> Tenancy:
        settings = settings or TenancySettings.load()
        url = async_database_url(settings.database_url)
        try:
            engine = create_async_engine(url, **engine_options)
        except ImportError as exc:  # the async driver (aiosqlite, asyncpg) is missing
            extra, alternatives = database_extra(url)
            raise MissingExtraError(
                exc.name or "database driver",
                extra,
                f"tenancy on {url.split(':', 1)[0]}",
                alternatives=alternatives,
            ) from exc
        strategy: IsolationStrategy
        if settings.strategy == "shared":
            strategy = SharedTableStrategy(
                engine, row_level_security=settings.row_level_security, rls_role=settings.rls_role
            )
        elif settings.strategy == "schema":
            strategy = SchemaPerTenantStrategy(engine, schema_prefix=settings.schema_prefix)
        elif settings.strategy == "database":
            strategy = DatabasePerTenantStrategy(
                engine,
                database_prefix=settings.database_prefix,
                max_engines=settings.max_tenant_engines,
                pool_size=settings.tenant_pool_size,
            )
        else:
            strategy = default_strategy(engine)
        return cls(engine, strategy, clock=clock, settings=settings)

    @asynccontextmanager
    async def control_session(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def manager(self, **options: Any) -> AsyncIterator[TenantManager]:
        """A `TenantManager` on a fresh control session."""
        async with self.control_session() as session:
            yield TenantManager(
                session, strategy=self.strategy, catalog=self.catalog, clock=self.clock, **options
            )

    async def install(self) -> None:
        async with self.manager() as manager:
            await manager.install()

    @asynccontextmanager
    async def tenant_session(self, tenant: TenantRef | str) -> AsyncIterator[AsyncSession]:
        """An ORM session that sees only ``tenant`` (a ref, or a slug/id looked up first)."""
        if isinstance(tenant, str):
            async with self.manager() as manager:
                tenant = await manager.tenant_ref(tenant)
        async with self.strategy.session(tenant) as session:
            yield session

    def resolver(self, **options: Any) -> TenantResolver:
        settings = self.settings
        options.setdefault("sources", settings.resolution_order)
        options.setdefault("base_domain", settings.base_domain)
        options.setdefault("cache_ttl", settings.resolution_cache_ttl)
        options.setdefault("clock", self.clock)
        options.setdefault("stale_ttl", settings.cache_stale_ttl)
        if options["base_domain"] is None and "subdomain" in options["sources"]:
            options["sources"] = tuple(s for s in options["sources"] if s != "subdomain")
        resolver = TenantResolver(SqlTenantLookup(self.engine), **options)
        self._resolvers.append(resolver)  # its background lookups end with dispose()
        return resolver

    def user_directory(self) -> SqlUserDirectory:
        """The auth package's ``UserDirectory`` over the tenancy tables (email-only login too).

        Returns:
            The directory.
        """
        return SqlUserDirectory(self.strategy)

    def plan_tiers(self) -> PlanTierSource:
        """The ``PlanTierSource`` the rate limiter reads (this tenancy's cached directory).

        Returns:
            The source; a plan change is seen by every process within ``tenant_cache_ttl``.
        """
        return self.tenants

    async def get_tenant(self, tenant: str) -> TenantInfo | None:
        """The tenant with this slug or id, from the bounded cache, or ``None``.

        Args:
            tenant: A slug or id (client input is fine).

        Returns:
            The snapshot, or ``None``.
        """
        return await self.tenants.get(tenant)

    @asynccontextmanager
    async def transaction(self, tenant: TenantRef | TenantInfo) -> AsyncIterator[AsyncSession]:
        """A tenant-bound session that commits when the block ends normally, else rolls back.

        Args:
            tenant: The tenant (a snapshot or a ref).

        Yields:
            The session.
        """
        ref = tenant.ref if isinstance(tenant, TenantInfo) else tenant
        async with self.strategy.session(ref) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    # --- quotas ----------------------------------------------------------------------------------

    async def consume_quota(self, tenant: str, resource: str, amount: int = 1) -> int:
        """Count ``amount`` of ``resource`` against the tenant's quota.

        Args:
            tenant: The tenant's slug or id.
            resource: The quota resource.
            amount: How much to consume.

        Returns:
            The new usage.

        Raises:
            QuotaExceeded: The quota would be exceeded (nothing is counted).
        """
        async with self.manager() as manager:
            return await manager.consume_quota(tenant, resource, amount)

    async def consume_quotas(
        self, resource: str, amounts: Mapping[str, int]
    ) -> dict[str, int | QuotaExceeded | TenantNotFoundError]:
        """Count many tenants' use of ``resource`` in one transaction (a batched meter's flush).

        Each tenant is counted as by `consume_quota`: atomically, never past its limit.

        Args:
            resource: The quota resource.
            amounts: How much each tenant (slug or id) consumed.

        Returns:
            Per tenant, its new usage, or the `QuotaExceeded` / `TenantNotFoundError` that
            refused it (nothing of a refused amount is counted).
        """
        async with self.manager() as manager:
            return await manager.quota_controls.consume_many(resource, amounts)

    async def release_quota(self, tenant: str, resource: str, amount: int = 1) -> None:
        """Give back ``amount`` of ``resource``.

        Args:
            tenant: The tenant's slug or id.
            resource: The quota resource.
            amount: How much to release.
        """
        async with self.manager() as manager:
            await manager.release_quota(tenant, resource, amount)

    async def get_usage(self, tenant: str) -> dict[str, UsageInfo]:
        """The tenant's usage of every quota resource.

        Args:
            tenant: The tenant's slug or id.

        Returns:
            Usage by resource name.
        """
        async with self.manager() as manager:
            return await manager.get_usage(tenant)

    # --- changes that the tenant cache must see at once in this process ---------------------------

    def _fresh(self, tenant: TenantInfo) -> TenantInfo:
        self.tenants.forget(tenant.id, tenant.slug)
        self.tenants.remember(tenant)
        return tenant

    async def create_tenant(self, *, actor: str = "system", **fields: Any) -> TenantInfo:
        """``TenantManager.create_tenant`` on a fresh session (indexes the admin's login).

        Args:
            actor: Who is acting (for the audit log).
            **fields: The keywords of ``TenantManager.create_tenant``.

        Returns:
            The new tenant.
        """
        async with self.manager(actor=actor) as manager:
            return self._fresh(await manager.create_tenant(**fields))

    async def create_user(self, tenant: str, *, actor: str = "system", **fields: Any) -> str:
        """``TenantManager.create_user`` (the user can then sign in by email alone).

        Args:
            tenant: The tenant's slug or id.
            actor: Who is acting.
            **fields: The keywords of ``TenantManager.create_user``.

        Returns:
            The new user's id.
        """
        async with self.manager(actor=actor) as manager:
            return await manager.create_user(tenant, **fields)

    async def change_plan(
        self, tenant: str, plan_tier: str, *, actor: str = "system"
    ) -> TenantInfo:
        """Move the tenant to ``plan_tier``; this process's limiter sees it on the next request.

        Args:
            tenant: The tenant's slug or id.
            plan_tier: The new tier.
            actor: Who is acting.

        Returns:
            The updated tenant.
        """
        async with self.manager(actor=actor) as manager:
            return self._fresh(await manager.change_plan(tenant, plan_tier))

    async def update_branding(
        self, tenant: str, branding: Mapping[str, Any], *, actor: str = "system"
    ) -> TenantInfo:
        """Merge ``branding`` into the tenant's branding.

        Args:
            tenant: The tenant's slug or id.
            branding: The keys to set (``None`` removes one).
            actor: Who is acting.

        Returns:
            The updated tenant.
        """
        async with self.manager(actor=actor) as manager:
            await manager.update_branding(tenant, dict(branding))
            return self._fresh(await manager.get_tenant(tenant))

    async def set_quota_override(
        self, tenant: str, resource: str, limit: int | None, *, actor: str = "system"
    ) -> TenantInfo:
        """Give the tenant its own limit for ``resource`` (``None`` = unlimited).

        Args:
            tenant: The tenant's slug or id.
            resource: The quota resource.
            limit: The limit.
            actor: Who is acting.

        Returns:
            The updated tenant.
        """
        async with self.manager(actor=actor) as manager:
            return self._fresh(await manager.set_quota_override(tenant, resource, limit))

    async def suspend_tenant(
        self, tenant: str, *, reason: str | None = None, actor: str = "system"
    ) -> TenantInfo:
        """Suspend the tenant.

        Args:
            tenant: The tenant's slug or id.
            reason: Why (audited).
            actor: Who is acting.

        Returns:
            The updated tenant.
        """
        async with self.manager(actor=actor) as manager:
            return self._fresh(await manager.suspend_tenant(tenant, reason=reason))

    async def dispose(self) -> None:
        await self.tenants.aclose()
        for resolver in self._resolvers:
            await resolver.aclose()
        await self.strategy.dispose()
        await self.engine.dispose()
