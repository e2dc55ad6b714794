"""Tenancy migrations: 200 tenant schemas to head, concurrency 1 vs N, and the no-op re-run.

Runs on the loopback PostgreSQL in a private database that is dropped afterwards. The peer row is
what a schema-per-tenant tool does by default (django-tenants' ``migrate_schemas``, or a loop over
``alembic upgrade``): run Alembic online once per schema, one schema after the other, and for the
no-op case ask every schema for its version separately.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks._harness import Row, print_table
from relaypoint_tenancy import migrations
from relaypoint_tenancy.migrate import migrate_all
from relaypoint_tenancy.models import Tenant

ADMIN_URL = os.environ.get(
    "RELAYPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TENANTS = int(os.environ.get("RP_BENCH_TENANTS", "200"))
CONCURRENCY = int(os.environ.get("RP_BENCH_CONCURRENCY", "8"))


def _schema(index: int) -> str:
    return f"tenant_bench{index:04d}"


async def _fresh_schemas(engine: AsyncEngine) -> None:
    """Drop and recreate every tenant schema empty (as if created before the tables existed)."""
    async with engine.begin() as conn:
        for index in range(TENANTS):
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{_schema(index)}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{_schema(index)}"')


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await migrations.upgrade(conn, "control")
        now = datetime(2026, 1, 1)
        await conn.execute(
            insert(Tenant.__table__),
            [
                {
                    "id": str(uuid.uuid4()),
                    "slug": f"bench{index:04d}",
                    "name": f"Bench {index}",
                    "plan_tier": "FREE",
                    "status": "active",
                    "quota_overrides": {},
                    "branding": {},
                    "isolation": "schema",
                    "data_location": _schema(index),
                    "created_at": now,
                    "updated_at": now,
                }
                for index in range(TENANTS)
            ],
        )
    await _fresh_schemas(engine)


async def _alembic_per_schema(engine: AsyncEngine) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent / "tenant"))

    def upgrade(connection: Connection, schema: str) -> None:
        config.attributes["connection"] = connection
        config.attributes["schema"] = schema
        command.upgrade(config, "head")

    for index in range(TENANTS):
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, _schema(index))


async def _naive_noop(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        for index in range(TENANTS):
            await migrations.current_revision(conn, "tenant", _schema(index))


async def _timed(coro: object) -> float:
    started = time.perf_counter()
    await coro  # type: ignore[misc]
    return time.perf_counter() - started


async def main() -> None:
    database = f"rpbench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = (
        ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        + "/"
        + database
    )
    engine = create_async_engine(url, pool_size=CONCURRENCY, max_overflow=2)
    try:
        await _seed(engine)
        peer = await _timed(_alembic_per_schema(engine))
        naive_noop = await _timed(_naive_noop(engine))
        await _fresh_schemas(engine)
        serial = await _timed(migrate_all(engine, concurrency=1))
        await _fresh_schemas(engine)
        report = await migrate_all(engine, concurrency=CONCURRENCY)
        parallel = report.seconds
        assert report.count("migrated") == TENANTS, report.summary()
        noop_report = await migrate_all(engine, concurrency=CONCURRENCY)
        assert noop_report.count("current") == TENANTS, noop_report.summary()
        noop = noop_report.seconds
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    tenants = str(TENANTS)
    print_table(
        f"migrate {TENANTS} tenant schemas to head (wall time per run)",
        [
            Row("alembic online, per schema, serial (peer)", peer, {"tenants": tenants}),
            Row("relaypoint migrate --concurrency 1", serial, {"tenants": tenants}),
            Row(f"relaypoint migrate --concurrency {CONCURRENCY}", parallel, {"tenants": tenants}),
        ],
        baseline="alembic online, per schema, serial (peer)",
        unit="s",
    )
    print_table(
        f"no-op re-run over {TENANTS} current tenants (goal: under 5 s)",
        [
            Row("version query per schema (peer)", naive_noop, {"tenants": tenants}),
            Row("relaypoint migrate (one catalog query + one UNION)", noop, {"tenants": tenants}),
        ],
        baseline="version query per schema (peer)",
        unit="s",
    )


if __name__ == "__main__":
    asyncio.run(main())
