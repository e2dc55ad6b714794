"""Shared tables: every tenant's rows in the same tables, told apart by ``tenant_id``.

Every ORM query of a tenant session gets ``WHERE tenant_id = :tenant`` added automatically. On
PostgreSQL, ``row_level_security=True`` adds a second, database-enforced wall: policies with
``FORCE ROW LEVEL SECURITY`` compare ``tenant_id`` with the transaction-local setting
``relaypoint.tenant_id``, and tenant sessions switch to a non-owner role with ``SET LOCAL ROLE``.
Both settings end with the transaction, so a pooled connection carries nothing to its next user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from relaypoint_tenancy import migrations
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.models import TENANT_SCHEMA, TenantBase
from relaypoint_tenancy.strategies.base import (
    IsolationKind,
    IsolationStrategy,
    TenantPlane,
    TenantRef,
)
from relaypoint_tenancy.validation import quote_identifier

__all__ = ["TENANT_SETTING", "SharedTableStrategy"]

TENANT_SETTING = "relaypoint.tenant_id"


class SharedTableStrategy(IsolationStrategy):
    kind: ClassVar[IsolationKind] = "shared"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        row_level_security: bool = False,
        rls_role: str = "relaypoint_tenant",
    ) -> None:
        super().__init__(engine)
        if row_level_security and self.dialect != "postgresql":
            raise TenancyConfigurationError(
                "row_level_security=True needs PostgreSQL; on SQLite the shared-table strategy "
                "relies on the automatic tenant filter only"
            )
        self.row_level_security = row_level_security
        self.rls_role = rls_role
        self._quoted_role = quote_identifier(rls_role, what="row-level-security role")

    async def install(self, conn: AsyncConnection) -> None:
        await super().install(conn)
        await migrations.upgrade(conn, "tenant")
        if self.row_level_security:
            await self._install_policies(conn)

    async def _install_policies(self, conn: AsyncConnection) -> None:
        role = self._quoted_role
        exists = (
            await conn.execute(
                text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": self.rls_role}
            )
        ).scalar_one()
        if not exists:
            await conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        await conn.exec_driver_sql(f"GRANT {role} TO CURRENT_USER")
        await conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        for table in TenantBase.metadata.sorted_tables:
            name = quote_identifier(table.name, what="table name")
            await conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {role}")
            await conn.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            await conn.exec_driver_sql(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            await conn.exec_driver_sql(f"DROP POLICY IF EXISTS rp_tenant_isolation ON {name}")
            await conn.exec_driver_sql(
                f"CREATE POLICY rp_tenant_isolation ON {name} "
                f"USING (tenant_id = current_setting('{TENANT_SETTING}', true)) "
                f"WITH CHECK (tenant_id = current_setting('{TENANT_SETTING}', true))"
            )
        await conn.exec_driver_sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")

    async def provision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        return None  # the shared tables already exist

    async def deprovision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        async with self.tenant_plane(conn, tenant) as plane:
            for table in reversed(TenantBase.metadata.sorted_tables):
                await plane.execute(table.delete().where(table.c.tenant_id == tenant.id))

    async def _bind_tenant(self, conn: AsyncConnection, tenant_id: str) -> None:
        await conn.execute(
            text("SELECT set_config(:name, :tenant, true)"),
            {"name": TENANT_SETTING, "tenant": tenant_id},
        )

    @asynccontextmanager
    async def tenant_plane(
        self, conn: AsyncConnection, tenant: TenantRef
    ) -> AsyncIterator[TenantPlane]:
        if self.row_level_security:
            await self._bind_tenant(conn, tenant.id)
        yield TenantPlane(conn, None)

    def _bind_for(self, tenant: TenantRef) -> AsyncEngine:
        return self.engine.execution_options(schema_translate_map={TENANT_SCHEMA: None})

    def _configure_session(self, session: AsyncSession, tenant: TenantRef) -> None:
        if not self.row_level_security:
            return
        role = self._quoted_role
        tenant_id = tenant.id

        def on_begin(
            sync: Session, transaction: SessionTransaction, connection: Connection
        ) -> None:
            # Both end with the transaction: nothing survives on the pooled connection.
            connection.exec_driver_sql(f"SET LOCAL ROLE {role}")
            connection.execute(
                text("SELECT set_config(:name, :tenant, true)"),
                {"name": TENANT_SETTING, "tenant": tenant_id},
            )

        event.listen(session.sync_session, "after_begin", on_begin)
