"""Database-per-tenant: each tenant in its own PostgreSQL database on the control server.

The control database keeps the tenants table; each tenant database holds the tenant-plane tables.
Engines (each with its own small pool) are kept in a bounded LRU; the least recently used idle
engine is disposed when a new one would exceed ``max_engines``, so thousands of tenants never mean
thousands of open pools.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from relaypoint_tenancy import migrations
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.models import TENANT_SCHEMA
from relaypoint_tenancy.strategies.base import (
    IsolationKind,
    IsolationStrategy,
    TenantPlane,
    TenantRef,
)
from relaypoint_tenancy.validation import database_name_for, quote_identifier, validate_identifier

__all__ = ["DatabasePerTenantStrategy"]


class DatabasePerTenantStrategy(IsolationStrategy):
    kind: ClassVar[IsolationKind] = "database"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        database_prefix: str = "rp_tenant_",
        max_engines: int = 32,
        pool_size: int = 2,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Serve each tenant from its own database on the control engine's server.

        Args:
            engine: The control database's engine; tenant databases share its server and URL.
            database_prefix: Prefix of tenant database names.
            max_engines: Tenant engines kept open at once (least recently used closed first).
            pool_size: Connections per tenant engine.
            engine_options: More ``create_async_engine`` options for tenant engines, e.g. the
                ``connect_args`` PgBouncer's transaction pooling needs (docs/operations.md).
        """
        super().__init__(engine)
        if self.dialect != "postgresql":
            raise TenancyConfigurationError(
                f"database-per-tenant needs PostgreSQL, not {self.dialect}"
            )
        if max_engines < 1:
            raise TenancyConfigurationError("max_engines must be at least 1")
        self.database_prefix = database_prefix
        self.max_engines = max_engines
        self.pool_size = pool_size
        self.engine_options: dict[str, Any] = dict(engine_options or {})
        self._engines: OrderedDict[str, AsyncEngine] = OrderedDict()
        self._in_use: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.evictions = 0

    def location_for(self, slug: str) -> str:
        return database_name_for(slug, prefix=self.database_prefix)

    def _database(self, tenant: TenantRef) -> str:
        return validate_identifier(
            tenant.data_location or self.location_for(tenant.slug), what="database name"
        )

    @property
    def open_engines(self) -> int:
        return len(self._engines)

    async def engine_for(self, tenant: TenantRef) -> AsyncEngine:
        """The (cached) engine of ``tenant``'s database, disposing the LRU idle one if full."""
        name = self._database(tenant)
        evicted: list[AsyncEngine] = []
        async with self._lock:
            engine = self._engines.get(name)
            if engine is not None:
                self._engines.move_to_end(name)
                return engine
            engine = create_async_engine(
                self.engine.url.set(database=name),
                **{
                    "pool_size": self.pool_size,
                    "max_overflow": 0,
                    "pool_pre_ping": False,
                    **self.engine_options,
                },
            )
            self._engines[name] = engine
            for candidate in list(self._engines):
                if len(self._engines) <= self.max_engines:
                    break
                if candidate != name and not self._in_use.get(candidate):
                    evicted.append(self._engines.pop(candidate))
        for old in evicted:
            self.evictions += 1
            await old.dispose()
        return engine

    async def _acquire(self, tenant: TenantRef) -> AsyncEngine:
        engine = await self.engine_for(tenant)
        name = self._database(tenant)
        self._in_use[name] = self._in_use.get(name, 0) + 1
        return engine.execution_options(schema_translate_map={TENANT_SCHEMA: None})

    async def _release(self, tenant: TenantRef) -> None:
        name = self._database(tenant)
        remaining = self._in_use.get(name, 1) - 1
        if remaining <= 0:
            self._in_use.pop(name, None)
        else:
            self._in_use[name] = remaining

    def _bind_for(self, tenant: TenantRef) -> AsyncEngine:  # pragma: no cover - _acquire is used
        raise NotImplementedError

    async def _forget(self, name: str) -> None:
        async with self._lock:
            engine = self._engines.pop(name, None)
        if engine is not None:
            await engine.dispose()

    async def _admin(self, sql: str) -> None:
        admin = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.exec_driver_sql(sql)

    async def provision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        name = self._database(tenant)
        # CREATE DATABASE cannot run in a transaction: it is undone by undo_provision instead.
        await self._admin(f"CREATE DATABASE {quote_identifier(name, what='database name')}")
        engine = await self.engine_for(tenant)
        async with engine.begin() as tenant_conn:
            await migrations.upgrade(tenant_conn, "tenant", None, from_rev=None)

    async def undo_provision(self, tenant: TenantRef) -> None:
        await self._drop(tenant)

    async def deprovision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        await self._drop(tenant)

    async def _drop(self, tenant: TenantRef) -> None:
        name = self._database(tenant)
        await self._forget(name)
        await self._admin(
            f"DROP DATABASE IF EXISTS {quote_identifier(name, what='database name')} WITH (FORCE)"
        )

    @asynccontextmanager
    async def tenant_plane(
        self, conn: AsyncConnection, tenant: TenantRef
    ) -> AsyncIterator[TenantPlane]:
        engine = await self._acquire(tenant)
        try:
            async with engine.begin() as tenant_conn:
                yield TenantPlane(tenant_conn, None)
        finally:
            await self._release(tenant)

    async def dispose(self) -> None:
        async with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            await engine.dispose()
