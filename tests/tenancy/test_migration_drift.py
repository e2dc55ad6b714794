"""Zero drift between the models and the shipped migrations (Alembic's own compare), for the
control plane and the tenant plane (default schema and a tenant schema), on SQLite and on
PostgreSQL; on PostgreSQL every key also carries the models' convention name, including in a
database first created at the previous revisions and then upgraded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from relaypoint_tenancy.migrations import upgrade, upgrade_statements
from relaypoint_tenancy.models import ControlBase, TenantBase
from tests.tenancy.conftest import PgDatabases

SCHEMA = "tenant_drift"


def tenant_metadata(schema: str | None) -> MetaData:
    """The tenant-plane models placed where a strategy puts them (a schema, or the default)."""
    metadata = MetaData(naming_convention=TenantBase.metadata.naming_convention, schema=schema)
    for table in TenantBase.metadata.tables.values():
        table.to_metadata(metadata, schema=schema)
    return metadata


def drift(sync: Connection, metadata: MetaData, schema: str | None) -> list[Any]:
    names = {table.name for table in metadata.tables.values()}

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        if type_ == "schema":
            return name == schema
        if type_ == "table":
            return name in names  # the other plane and version tables live beside them
        return True

    context = MigrationContext.configure(
        sync,
        opts={
            "compare_type": True,
            "include_schemas": schema is not None,
            "include_name": include_name,
        },
    )
    return list(compare_metadata(context, metadata))


async def migrate(conn: AsyncConnection, *, tenant_schema: str | None) -> None:
    if tenant_schema is not None:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{tenant_schema}"')
    await upgrade(conn, "control")
    await upgrade(conn, "tenant", tenant_schema)


async def constraint_names(conn: AsyncConnection, schema: str) -> set[str]:
    rows = await conn.execute(
        text(
            "SELECT c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE n.nspname = :schema AND t.relname LIKE 'rp\\_%' AND t.relname NOT LIKE '%version'"
        ),
        {"schema": schema},
    )
    return set(rows.scalars())


def convention_names(metadata: MetaData) -> set[str]:
    names: set[str] = set()
    for table in metadata.tables.values():
        names |= {str(c.name) for c in table.constraints if c.name}
    return names


@pytest.fixture
def postgres(pg_databases: PgDatabases) -> str:
    return pg_databases.url("drift")


@pytest.fixture(
    params=[
        ("sqlite", None),  # SQLite has no schemas: schema-per-tenant is PostgreSQL only
        pytest.param(("postgres", None), marks=pytest.mark.postgres),
        pytest.param(("postgres", SCHEMA), marks=pytest.mark.postgres),
    ],
    ids=["sqlite", "postgres", "postgres-schema"],
)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    backend_name, tenant_schema = request.param
    if backend_name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'drift.sqlite3'}", None
    url: str = request.getfixturevalue("postgres")
    return url, tenant_schema


async def test_models_and_migrations_agree(target: tuple[str, str | None]) -> None:
    database_url, tenant_schema = target
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await migrate(conn, tenant_schema=tenant_schema)
            control = await conn.run_sync(drift, ControlBase.metadata, None)
            tenant = await conn.run_sync(drift, tenant_metadata(tenant_schema), tenant_schema)
            if engine.dialect.name == "postgresql":
                control_names = await constraint_names(conn, "public")
                tenant_names = await constraint_names(conn, tenant_schema or "public")
            await transaction.rollback()
    finally:
        await engine.dispose()
    assert control == []
    assert tenant == []
    if engine.dialect.name == "postgresql":
        expected = convention_names(ControlBase.metadata)
        expected_tenant = convention_names(tenant_metadata(tenant_schema))
        assert control_names | tenant_names == expected | expected_tenant


async def test_an_existing_database_is_brought_in_line(postgres: str) -> None:
    """Created at c0002/t0001 (default key names, no audit tenant index), then upgraded."""
    engine = create_async_engine(postgres)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await conn.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
            for statement in upgrade_statements("control", "postgresql", None, None):
                if "c0002 -> c0003" in statement:
                    break
                await conn.exec_driver_sql(statement)
            for statement in upgrade_statements("tenant", "postgresql", None, SCHEMA):
                if "t0001 -> t0002" in statement:
                    break
                await conn.exec_driver_sql(statement)
            old = await constraint_names(conn, SCHEMA)
            assert "rp_users_pkey" in old
            assert await conn.run_sync(drift, tenant_metadata(SCHEMA), SCHEMA) != []
            assert await upgrade(conn, "control")
            assert await upgrade(conn, "tenant", SCHEMA)
            assert await conn.run_sync(drift, tenant_metadata(SCHEMA), SCHEMA) == []
            assert await conn.run_sync(drift, ControlBase.metadata, None) == []
            names = await constraint_names(conn, SCHEMA) | await constraint_names(conn, "public")
            await transaction.rollback()
    finally:
        await engine.dispose()
    assert names == convention_names(ControlBase.metadata) | convention_names(
        tenant_metadata(SCHEMA)
    )
