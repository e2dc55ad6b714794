"""``Tenancy``: one object that wires engine, strategy, manager, resolver and user directory.

Built from :class:`TenancySettings` (environment variables ``DATABASE_URL``,
``TENANCY_STRATEGY``, ``TENANCY_ROW_LEVEL_SECURITY``, ``TENANCY_BASE_DOMAIN``, ...), so the
isolation strategy is a configuration choice, not a code change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from relaypoint_core.clock import Clock, system_clock
from relaypoint_tenancy.manager import TenantManager
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog
from relaypoint_tenancy.resolution import (
    DEFAULT_SOURCES,
    Source,
    SqlTenantLookup,
    TenantResolver,
)
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


def async_database_url(url: str) -> str:
    """Add the async driver to plain ``postgresql://`` and ``sqlite://`` URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class TenancySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TENANCY_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./relaypoint.db",
        validation_alias="DATABASE_URL",
    )
    strategy: Literal["shared", "schema", "database"] | None = None
    row_level_security: bool = False
    rls_role: str = "relaypoint_tenant"
    schema_prefix: str = "tenant_"
    database_prefix: str = "rp_tenant_"
    max_tenant_engines: int = Field(default=32, ge=1)
    tenant_pool_size: int = Field(default=2, ge=1)
    base_domain: str | None = None
    resolution_order: tuple[Source, ...] = DEFAULT_SOURCES
    resolution_cache_ttl: float = Field(default=30.0, ge=0)


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
        self.settings = settings or TenancySettings(DATABASE_URL=str(engine.url))

    @classmethod
    def from_settings(
        cls,
        settings: TenancySettings | None = None,
        *,
        clock: Clock = system_clock,
        **engine_options: Any,
    ) -> Tenancy:
        settings = settings or TenancySettings()
        engine = create_async_engine(async_database_url(settings.database_url), **engine_options)
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
        """A :class:`TenantManager` on a fresh control session."""
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
        if options["base_domain"] is None and "subdomain" in options["sources"]:
            options["sources"] = tuple(s for s in options["sources"] if s != "subdomain")
        return TenantResolver(SqlTenantLookup(self.engine), **options)

    def user_directory(self) -> SqlUserDirectory:
        return SqlUserDirectory(self.strategy)

    async def dispose(self) -> None:
        await self.strategy.dispose()
        await self.engine.dispose()
