"""The tenancy behaviour suite through PgBouncer in transaction pooling mode, for every
PostgreSQL strategy (shared tables, shared tables with row-level security, schema per tenant,
database per tenant), with the driver settings of docs/operations.md.

The tests are the suite's own functions, imported here: only where they connect changes. The
subset covers creating (and refusing a duplicate), isolating and deleting tenants on every
strategy, row-level security without the ORM, and no session state left on pooled connections.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.pgbouncer import PgBouncer, pgbouncer_engine_options
from tests.support.tools import require_tool
from tests.tenancy.conftest import PgDatabases, StrategyTarget
from tests.tenancy.test_behaviour import (  # noqa: F401  (collected here, through PgBouncer)
    test_create_tenant_with_admin_and_isolation_resources,
    test_delete_removes_all_tenant_data,
    test_duplicate_slug_is_refused_and_leaves_the_first_intact,
    test_row_level_security_holds_without_the_orm,
    test_schema_sessions_leave_no_search_path_behind,
    test_tenant_sessions_are_isolated,
)


@pytest.fixture(scope="session")
def pgbouncer(pg_databases: PgDatabases) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(require_tool("pgbouncer")).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(
    params=[
        pytest.param("pg-shared", marks=pytest.mark.postgres),
        pytest.param("pg-shared-rls", marks=pytest.mark.postgres),
        pytest.param("pg-schema", marks=pytest.mark.postgres),
        pytest.param("pg-database", marks=pytest.mark.postgres),
    ]
)
def strategy_target(request: pytest.FixtureRequest) -> StrategyTarget:
    """Like the suite's own ``strategy_target``, but every connection goes through PgBouncer."""
    kind: str = request.param
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    direct = databases.url(f"pgb_{kind.removeprefix('pg-').replace('-', '_')}")
    return StrategyTarget(
        kind,
        bouncer.url(direct.rsplit("/", 1)[1]),
        databases,
        engine_options=pgbouncer_engine_options(),
    )


async def test_the_suite_really_went_through_pgbouncer(
    strategy_target: StrategyTarget, pgbouncer: PgBouncer
) -> None:
    psql = require_tool("psql")
    database = strategy_target.url.rsplit("/", 1)[1]
    engine = create_async_engine(strategy_target.url, **strategy_target.engine_options)
    try:
        before = pgbouncer.transactions(psql).get(database, 0)
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        after = pgbouncer.transactions(psql).get(database, 0)
    finally:
        await engine.dispose()
    assert after > before
