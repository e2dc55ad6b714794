"""Database-per-tenant keeps a bounded LRU of engines and disposes the evicted ones."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from relaypoint_tenancy.migrate import migrate_all
from relaypoint_tenancy.models import User
from relaypoint_tenancy.resolution import TenantResolver
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.strategies import DatabasePerTenantStrategy
from relaypoint_tenancy.testing import InMemoryTenantLookup, tenant_record
from tests.tenancy.conftest import new_slug


@pytest.mark.postgres
@pytest.mark.parametrize("strategy_target", ["pg-database"], indirect=True)
async def test_engines_are_bounded_and_evicted_idle_first(tenancy: Tenancy) -> None:
    refs = []
    async with tenancy.manager() as manager:
        for prefix in ("e", "f"):
            slug = new_slug(prefix)
            await manager.create_tenant(
                name=slug, slug=slug, admin_email=f"a@{slug}.ex", admin_name="A"
            )
            refs.append((await manager.get_tenant(slug)).ref)
    assert isinstance(tenancy.strategy, DatabasePerTenantStrategy)
    small = DatabasePerTenantStrategy(
        tenancy.engine, database_prefix=tenancy.strategy.database_prefix, max_engines=1
    )
    try:

        async def emails(index: int) -> list[str]:
            async with small.session(refs[index]) as session:
                return list((await session.execute(select(User.email))).scalars())

        assert await emails(0) == [f"a@{refs[0].slug}.ex"]
        assert (small.open_engines, small.evictions) == (1, 0)
        assert await emails(1) == [f"a@{refs[1].slug}.ex"]
        assert (small.open_engines, small.evictions) == (1, 1)
        # an engine with a session in flight is never evicted, even over the bound
        async with small.session(refs[1]) as busy:
            assert await emails(0) == [f"a@{refs[0].slug}.ex"]
            assert small.open_engines == 2
            assert list((await busy.execute(select(User.email))).scalars()) == [
                f"a@{refs[1].slug}.ex"
            ]
        assert await emails(0) == [f"a@{refs[0].slug}.ex"]  # the evicted tenant comes back
    finally:
        await small.dispose()
    assert small.open_engines == 0
    # the migrate command reaches tenant databases too: one behind, one current
    behind = small.location_for(refs[0].slug)
    engine = create_async_engine(tenancy.engine.url.set(database=behind), poolclass=NullPool)
    async with engine.begin() as conn:
        for table in ("rp_audit_events", "rp_role_assignments", "rp_users", "rp_tenant_version"):
            await conn.exec_driver_sql(f"DROP TABLE {table}")
    await engine.dispose()
    report = await migrate_all(tenancy.engine, concurrency=2, only=[r.slug for r in refs])
    assert {r.slug: r.status for r in report.results} == {
        refs[0].slug: "migrated",
        refs[1].slug: "current",
    }
    async with tenancy.manager() as manager:
        for ref in refs:
            await manager.delete_tenant(ref.slug)


async def test_in_memory_lookup_serves_the_resolver() -> None:
    lookup = InMemoryTenantLookup()
    lookup.add(tenant_record("acme", plan_tier="PROFESSIONAL"), domains=["app.acme.com"])
    resolver = TenantResolver(lookup, sources=("custom_domain", "header"))
    scope = {"type": "http", "path": "/", "headers": [(b"host", b"App.Acme.com:8443")]}
    record = await resolver.resolve(scope)
    assert record is not None
    assert record.resolved().plan_tier == "PROFESSIONAL"
