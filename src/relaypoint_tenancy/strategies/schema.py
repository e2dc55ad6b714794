"""Schema-per-tenant on PostgreSQL: each tenant's tables in its own schema (``tenant_<slug>``).

Sessions reach the schema through ``schema_translate_map``, applied by SQLAlchemy to each statement
as it is rendered; the connection's ``search_path`` is never touched, so a pooled connection has no
tenant state for its next user to inherit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaypoint_tenancy import migrations
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.models import TENANT_SCHEMA
from relaypoint_tenancy.strategies.base import (
    IsolationKind,
    IsolationStrategy,
    TenantPlane,
    TenantRef,
)
from relaypoint_tenancy.validation import quote_identifier, schema_name_for, validate_identifier

__all__ = ["SchemaPerTenantStrategy"]


class SchemaPerTenantStrategy(IsolationStrategy):
    kind: ClassVar[IsolationKind] = "schema"

    def __init__(self, engine: AsyncEngine, *, schema_prefix: str = "tenant_") -> None:
        super().__init__(engine)
        if self.dialect != "postgresql":
            raise TenancyConfigurationError(
                f"schema-per-tenant needs PostgreSQL, not {self.dialect}; use the shared-table "
                "strategy (strategy='shared') on SQLite"
            )
        self.schema_prefix = schema_prefix

    def location_for(self, slug: str) -> str:
        return schema_name_for(slug, prefix=self.schema_prefix)

    def _schema(self, tenant: TenantRef) -> str:
        return validate_identifier(
            tenant.data_location or self.location_for(tenant.slug), what="schema name"
        )

    async def provision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        schema = self._schema(tenant)
        await conn.exec_driver_sql(f"CREATE SCHEMA {quote_identifier(schema)}")
        await migrations.upgrade(conn, "tenant", schema, from_rev=None)

    async def deprovision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        await conn.exec_driver_sql(
            f"DROP SCHEMA IF EXISTS {quote_identifier(self._schema(tenant))} CASCADE"
        )

    @asynccontextmanager
    async def tenant_plane(
        self, conn: AsyncConnection, tenant: TenantRef
    ) -> AsyncIterator[TenantPlane]:
        yield TenantPlane(conn, self._schema(tenant))

    def _bind_for(self, tenant: TenantRef) -> AsyncEngine:
        return self.engine.execution_options(
            schema_translate_map={TENANT_SCHEMA: self._schema(tenant)}
        )
