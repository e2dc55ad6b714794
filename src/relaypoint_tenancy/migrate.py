"""Bring the control plane and every tenant to the head revision, concurrently and resumably.

* Skip-if-current costs one catalog query plus one ``UNION ALL`` over every tenant schema's
  version table (per 500 schemas), not a query per tenant.
* Each tenant migrates in its own transaction: a failure leaves that tenant at its old revision,
  the others proceed, and the next run picks up exactly the tenants that are still behind.
* ``concurrency`` bounds how many tenants migrate at once (and the pool size of the run).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from relaypoint_tenancy import migrations
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.validation import quote_identifier, validate_identifier

__all__ = ["MigrationReport", "TenantMigration", "migrate_all", "schema_revisions"]

logger = logging.getLogger("relaypoint.tenancy.migrate")

Status = Literal["migrated", "current", "failed"]
_UNION_CHUNK = 500


@dataclass(frozen=True, slots=True)
class TenantMigration:
    slug: str
    isolation: str
    location: str | None
    status: Status
    from_revision: str | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class MigrationReport:
    control_migrated: bool = False
    shared_migrated: bool = False
    results: list[TenantMigration] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[TenantMigration]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"{len(self.results)} tenants: {self.count('migrated')} migrated, "
            f"{self.count('current')} already current, {self.count('failed')} failed "
            f"in {self.seconds:.2f}s"
        )


Progress = Callable[[int, int, MigrationReport], None]


async def schema_revisions(engine: AsyncEngine, schemas: Iterable[str]) -> dict[str, str | None]:
    """Each schema's tenant-stream revision (``None`` = never migrated), in O(1) queries."""
    wanted = [validate_identifier(s, what="schema name") for s in schemas]
    revisions: dict[str, str | None] = dict.fromkeys(wanted)
    if not wanted:
        return revisions
    table = migrations.VERSION_TABLES["tenant"]
    async with engine.connect() as conn:
        present = (
            await conn.execute(
                text(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relname = :table AND c.relkind = 'r' AND n.nspname = ANY(:schemas)"
                ),
                {"table": table, "schemas": wanted},
            )
        ).scalars()
        existing = sorted(present)
        for start in range(0, len(existing), _UNION_CHUNK):
            chunk = existing[start : start + _UNION_CHUNK]
            union = " UNION ALL ".join(  # identifiers validated and quoted
                f"SELECT '{schema}' AS s, version_num FROM {quote_identifier(schema)}.{table}"  # noqa: S608
                for schema in chunk
            )
            found_rows: list[Any] = list((await conn.exec_driver_sql(union)).all())
            for found in found_rows:
                revisions[str(found[0])] = str(found[1])
    return revisions


async def _migrate_schema(
    engine: AsyncEngine, tenant: Tenant, schema: str, current: str | None
) -> TenantMigration:
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        await migrations.upgrade(conn, "tenant", schema, from_rev=current)
    return TenantMigration(
        tenant.slug, "schema", schema, "migrated", current, seconds=time.perf_counter() - started
    )


async def _migrate_database(engine: AsyncEngine, tenant: Tenant, name: str) -> TenantMigration:
    started = time.perf_counter()
    tenant_engine = create_async_engine(engine.url.set(database=name), poolclass=NullPool)
    try:
        async with tenant_engine.begin() as conn:
            current = await migrations.current_revision(conn, "tenant", None)
            if current == migrations.head_revision("tenant"):
                return TenantMigration(tenant.slug, "database", name, "current", current)
            await migrations.upgrade(conn, "tenant", None, from_rev=current)
    finally:
        await tenant_engine.dispose()
    return TenantMigration(
        tenant.slug, "database", name, "migrated", current, seconds=time.perf_counter() - started
    )


async def migrate_all(
    engine: AsyncEngine,
    *,
    concurrency: int = 4,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> MigrationReport:
    """Migrate the control plane, the shared tables and every tenant (or those in ``only``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.perf_counter()
    report = MigrationReport()
    async with engine.begin() as conn:
        report.control_migrated = await migrations.upgrade(conn, "control")
    async with engine.connect() as conn:
        statement = select(Tenant).order_by(Tenant.slug)
        if only is not None:
            statement = statement.where(Tenant.slug.in_(list(only)))
        found = (await conn.execute(statement)).mappings().all()
    rows = [Tenant(**dict(row)) for row in found]
    if any(t.isolation == "shared" for t in rows):
        async with engine.begin() as conn:
            report.shared_migrated = await migrations.upgrade(conn, "tenant")
    head = migrations.head_revision("tenant")
    schema_tenants = [t for t in rows if t.isolation == "schema"]
    revisions = await schema_revisions(
        engine, [t.data_location for t in schema_tenants if t.data_location]
    )
    jobs: list[tuple[Tenant, str | None]] = []
    for tenant in rows:
        if tenant.isolation == "shared":
            report.results.append(TenantMigration(tenant.slug, "shared", None, "current", head))
        elif tenant.isolation == "schema" and revisions.get(tenant.data_location or "") == head:
            report.results.append(
                TenantMigration(tenant.slug, "schema", tenant.data_location, "current", head)
            )
        else:
            jobs.append((tenant, revisions.get(tenant.data_location or "")))
    total = len(rows)
    if progress is not None:
        progress(len(report.results), total, report)
    semaphore = asyncio.Semaphore(concurrency)

    async def run(tenant: Tenant, current: str | None) -> None:
        async with semaphore:
            try:
                location = validate_identifier(tenant.data_location, what="tenant location")
                if tenant.isolation == "schema":
                    result = await _migrate_schema(engine, tenant, location, current)
                else:
                    result = await _migrate_database(engine, tenant, location)
            except Exception as exc:
                logger.error("tenant %s failed to migrate: %s", tenant.slug, exc)
                result = TenantMigration(
                    tenant.slug,
                    tenant.isolation,
                    tenant.data_location,
                    "failed",
                    current,
                    error=f"{type(exc).__name__}: {exc}",
                )
            report.results.append(result)
            if progress is not None:
                progress(len(report.results), total, report)

    await asyncio.gather(*(run(tenant, current) for tenant, current in jobs))
    report.results.sort(key=lambda r: r.slug)
    report.seconds = time.perf_counter() - started
    return report
