"""Cross-tenant migrations on PostgreSQL: skip-if-current, per-tenant failure, resume, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import migrations
from relaypoint_tenancy.migrate import migrate_all, schema_revisions
from relaypoint_tenancy.service import Tenancy
from tests.support.sql import recorded_statements
from tests.tenancy.conftest import StrategyTarget, installed_tenancy, new_slug

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("strategy_target", ["pg-schema"], indirect=True),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def schema_tenancy(
    strategy_target: StrategyTarget, fake_clock: FakeClock
) -> AsyncIterator[Tenancy]:
    async with installed_tenancy(strategy_target, fake_clock) as tenancy:
        yield tenancy


async def _tenants(tenancy: Tenancy, count: int) -> list[str]:
    slugs = []
    async with tenancy.manager() as manager:
        for _ in range(count):
            slug = new_slug("m")
            await manager.create_tenant(
                name=slug, slug=slug, admin_email=f"a@{slug}.ex", admin_name="A"
            )
            slugs.append(slug)
    return slugs


async def test_noop_run_costs_a_constant_number_of_queries(schema_tenancy: Tenancy) -> None:
    slugs = await _tenants(schema_tenancy, 3)
    with recorded_statements(schema_tenancy.engine) as statements:
        report = await migrate_all(schema_tenancy.engine, concurrency=3, only=slugs)
    assert report.ok
    assert {r.status for r in report.results} == {"current"}
    assert not report.control_migrated
    # control version check (2) + tenant list (1) + catalog (1) + one UNION over all schemas (1)
    assert len(statements) <= 6, statements
    assert sum("UNION ALL" in s for s in statements) == 1


async def test_failed_tenant_is_reported_and_the_rerun_resumes(schema_tenancy: Tenancy) -> None:
    current, behind, broken = await _tenants(schema_tenancy, 3)
    schema = {
        slug: schema_tenancy.strategy.location_for(slug) for slug in (current, behind, broken)
    }
    async with schema_tenancy.engine.begin() as conn:
        for slug in (behind, broken):
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema[slug]}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema[slug]}"')
        # a stray table makes the broken tenant's migration fail half-way
        await conn.exec_driver_sql(f'CREATE TABLE "{schema[broken]}".rp_audit_events (x int)')
    progress: list[tuple[int, int]] = []
    report = await migrate_all(
        schema_tenancy.engine,
        concurrency=2,
        only=[current, behind, broken],
        progress=lambda done, total, _: progress.append((done, total)),
    )
    by_slug = {r.slug: r for r in report.results}
    assert by_slug[current].status == "current"
    assert by_slug[behind].status == "migrated"
    assert by_slug[broken].status == "failed"
    assert "rp_audit_events" in (by_slug[broken].error or "")
    assert [r.slug for r in report.failed] == [broken]
    assert progress[-1] == (3, 3)
    revisions = await schema_revisions(schema_tenancy.engine, schema.values())
    head = migrations.head_revision("tenant")
    assert revisions == {schema[current]: head, schema[behind]: head, schema[broken]: None}
    # the broken tenant's transaction rolled back: no half-created tables
    async with schema_tenancy.engine.connect() as conn:
        assert (
            await conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{schema[broken]}.rp_users"})
        ).scalar() is None
    async with schema_tenancy.engine.begin() as conn:
        await conn.exec_driver_sql(f'DROP TABLE "{schema[broken]}".rp_audit_events')
    rerun = await migrate_all(schema_tenancy.engine, concurrency=2, only=[current, behind, broken])
    assert {r.slug: r.status for r in rerun.results} == {
        current: "current",
        behind: "current",
        broken: "migrated",
    }


async def test_command_line(schema_tenancy: Tenancy, strategy_target: StrategyTarget) -> None:
    await _tenants(schema_tenancy, 2)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "relaypoint_tenancy",
            "migrate",
            "--database-url",
            strategy_target.url,
            "--concurrency",
            "2",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "migrate: " in result.stderr  # the progress line
    assert "0 failed" in result.stdout
    assert "current" in result.stdout


async def test_alembic_env_runs_a_stream_online(schema_tenancy: Tenancy) -> None:
    schema = f"envpy_{new_slug()}"
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent / "tenant"))

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        config.attributes["schema"] = schema
        command.upgrade(config, "head")

    async with schema_tenancy.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.run_sync(upgrade)
        assert await migrations.current_revision(
            conn, "tenant", schema
        ) == migrations.head_revision("tenant")
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
