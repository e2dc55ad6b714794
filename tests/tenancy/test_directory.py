"""The tenant directory's caches stay bounded; an uninstalled database says how to install."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import (
    Tenancy,
    TenancyConfigurationError,
    TenantDirectory,
    TenantManager,
)
from tests.support.sql import recorded_statements


async def test_a_flood_of_unknown_slugs_leaves_bounded_memory(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    tenancy = Tenancy(engine)
    await tenancy.install()
    clock = FakeClock()
    directory = TenantDirectory(engine, negative_size=100, negative_ttl=5.0, clock=clock)
    try:
        for n in range(2_000):
            assert await directory.get(f"nope-{n}") is None
        assert directory.cached_entries <= 100
        assert await directory.get("x" * 500) is None  # cannot be a tenant: no query, no entry
        queries = directory.queries
        assert await directory.get("nope-1999") is None  # remembered: no query
        assert directory.queries == queries
        clock.advance(6.0)
        assert await directory.get("nope-1999") is None  # expired: asked again
        assert directory.queries == queries + 1
    finally:
        await tenancy.dispose()


async def test_a_plan_change_is_seen_at_once_here_and_within_the_ttl_elsewhere(
    tmp_path: Path,
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    clock = FakeClock()
    here = Tenancy(engine, clock=clock)
    elsewhere = TenantDirectory(engine, ttl=5.0, clock=clock)  # another process's cache
    try:
        await here.install()
        await here.create_tenant(
            name="Acme", slug="acme", plan_tier="FREE", admin_email="a@acme.example", admin_name="A"
        )
        assert await here.plan_tiers().plan_tier("acme") == "FREE"  # type: ignore[arg-type]
        assert await elsewhere.plan_tier("acme") == "FREE"  # type: ignore[arg-type]
        await here.change_plan("acme", "PROFESSIONAL")
        assert await here.plan_tiers().plan_tier("acme") == "PROFESSIONAL"  # type: ignore[arg-type]
        clock.advance(5.5)
        assert await elsewhere.plan_tier("acme") == "PROFESSIONAL"  # type: ignore[arg-type]
    finally:
        await here.dispose()


async def test_tenant_manager_on_an_uninstalled_database_says_how_to_install(
    tmp_path: Path,
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        async with AsyncSession(engine) as session:
            manager = TenantManager(session)
            with pytest.raises(TenancyConfigurationError, match=r"Tenancy.install\(\)"):
                await manager.find_tenant("acme")
            with pytest.raises(TenancyConfigurationError, match="relaypoint_tenancy migrate"):
                await manager.create_tenant(
                    name="A", slug="acme", admin_email="a@acme.example", admin_name="A"
                )
    finally:
        await engine.dispose()


async def test_stale_tenants_are_refreshed_together_in_one_select(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    tenancy = Tenancy(engine)
    await tenancy.install()
    clock = FakeClock()
    directory = TenantDirectory(engine, ttl=5.0, stale_ttl=60.0, clock=clock)
    try:
        slugs = [f"dir{n}" for n in range(16)]
        for slug in slugs:
            await tenancy.create_tenant(
                name="D", slug=slug, admin_email=f"a@{slug}.example", admin_name="A"
            )
        for slug in slugs:  # first seen at different times, as under load
            assert await directory.get(slug) is not None
            clock.advance(0.2)
        await tenancy.change_plan("dir3", "ENTERPRISE")  # another process's directory: stale
        with recorded_statements(engine) as sent:
            clock.advance(5.0)  # dir0 is stale, every other one past half its ttl
            assert None not in [await directory.get(slug) for slug in slugs]  # served stale
            await directory.settle()
            assert len(sent) == 1  # one SELECT refreshed all sixteen
            assert " IN " in sent[0]
            assert (await directory.get("dir3")).plan_tier.value == "ENTERPRISE"  # type: ignore[union-attr]
            clock.advance(5.0)  # refreshed together: stale together, one SELECT again
            assert None not in [await directory.get(slug) for slug in slugs]
            await directory.settle()
            assert len(sent) == 2
    finally:
        await directory.aclose()
        await tenancy.dispose()
