"""Race-safe tenant-plane writes on every isolation strategy: concurrent deletes of one row
report exactly one winner, concurrent increments lose nothing, and a versioned write that lost
the race raises a 409-class error instead of overwriting (issue #12 item 2)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import Integer, MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from relaypoint_core.errors import ConflictError
from relaypoint_tenancy import ConcurrentUpdateError, PlanTier, atomic_update, delete_once
from relaypoint_tenancy.models import TENANT_SCHEMA, TenantScoped
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.strategies import TenantRef
from tests.tenancy.conftest import STRATEGIES, PgDatabases, StrategyTarget, new_slug

# The table below is created through a tenant session, which row-level security's restricted
# role may not do; RLS itself is covered by test_behaviour.py.
WRITE_STRATEGIES = [s for s in STRATEGIES if getattr(s, "values", (s,))[0] != "pg-shared-rls"]


@pytest.fixture(params=WRITE_STRATEGIES)
def strategy_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> StrategyTarget:
    kind: str = request.param
    if kind == "sqlite-shared":
        path = tmp_path_factory.mktemp("writes") / "control.db"
        return StrategyTarget(kind, f"sqlite+aiosqlite:///{path}")
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    return StrategyTarget(kind, databases.url(kind.removeprefix("pg-")), databases)


class _Base(DeclarativeBase):
    metadata = MetaData(schema=TENANT_SCHEMA)


class Item(TenantScoped, _Base):
    __tablename__ = "rp_test_write_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


async def _tenant_with_item(tenancy: Tenancy) -> tuple[TenantRef, str]:
    slug = new_slug("w")
    async with tenancy.manager() as manager:
        info = await manager.create_tenant(
            name=f"{slug} Corp",
            slug=slug,
            plan_tier=PlanTier.FREE,
            admin_email=f"admin@{slug}.example",
            admin_name="Ada",
        )
    ref = info.ref
    item_id = uuid.uuid4().hex
    async with tenancy.strategy.session(ref) as session:
        await session.run_sync(
            lambda sync: _Base.metadata.create_all(sync.connection(), tables=[Item.__table__])
        )
        session.add(Item(id=item_id, name="first"))
        await session.commit()
    return ref, item_id


async def test_of_concurrent_deletes_of_one_row_exactly_one_wins(tenancy: Tenancy) -> None:
    ref, item_id = await _tenant_with_item(tenancy)

    async def attempt() -> bool:
        async with tenancy.strategy.session(ref) as session:
            deleted = await delete_once(session, Item, Item.id == item_id)
            await session.commit()
            return deleted

    outcomes = await asyncio.gather(*(attempt() for _ in range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]


async def test_concurrent_atomic_increments_lose_no_update(tenancy: Tenancy) -> None:
    ref, item_id = await _tenant_with_item(tenancy)

    async def bump() -> int:
        async with tenancy.strategy.session(ref) as session:
            row = await atomic_update(
                session, Item, Item.id == item_id, values={"hits": Item.hits + 1}
            )
            await session.commit()
            assert row is not None
            return row.hits

    seen = await asyncio.gather(*(bump() for _ in range(10)))
    assert sorted(seen) == list(range(1, 11))
    async with tenancy.strategy.session(ref) as session:
        row = (await session.execute(select(Item).where(Item.id == item_id))).scalar_one()
    assert (row.hits, row.version) == (10, 11)


async def test_a_versioned_write_that_lost_the_race_is_a_conflict(tenancy: Tenancy) -> None:
    ref, item_id = await _tenant_with_item(tenancy)
    async with tenancy.strategy.session(ref) as session:
        first = await atomic_update(
            session, Item, Item.id == item_id, values={"name": "a"}, expected_version=1
        )
        assert first is not None
        assert first.version == 2
        with pytest.raises(ConcurrentUpdateError) as caught:
            await atomic_update(
                session, Item, Item.id == item_id, values={"name": "b"}, expected_version=1
            )
        await session.commit()
    assert isinstance(caught.value, ConflictError)
    assert (caught.value.expected, caught.value.actual) == (1, 2)


async def test_writes_to_a_missing_row_report_it_instead_of_raising(tenancy: Tenancy) -> None:
    ref, _ = await _tenant_with_item(tenancy)
    async with tenancy.strategy.session(ref) as session:
        assert await atomic_update(session, Item, Item.id == "gone", values={"name": "x"}) is None
        assert (
            await atomic_update(
                session, Item, Item.id == "gone", values={"name": "x"}, expected_version=3
            )
            is None
        )
        assert await delete_once(session, Item, Item.id == "gone") is False


async def test_a_tenant_cannot_delete_or_update_another_tenants_row(tenancy: Tenancy) -> None:
    ref_a, item_a = await _tenant_with_item(tenancy)
    ref_b, _ = await _tenant_with_item(tenancy)
    async with tenancy.strategy.session(ref_b) as session:
        assert await atomic_update(session, Item, Item.id == item_a, values={"name": "x"}) is None
        assert await delete_once(session, Item, Item.id == item_a) is False
        await session.commit()
    async with tenancy.strategy.session(ref_a) as session:
        row = (await session.execute(select(Item).where(Item.id == item_a))).scalar_one()
    assert (row.name, row.version) == ("first", 1)
