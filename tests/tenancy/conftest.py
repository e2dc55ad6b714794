"""Tenancy fixtures: private PostgreSQL databases (one per strategy), and one installed
:class:`Tenancy` per isolation strategy (``tenancy`` is parametrized over all of them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.strategies import (
    DatabasePerTenantStrategy,
    IsolationStrategy,
    SchemaPerTenantStrategy,
    SharedTableStrategy,
)


def new_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class PgDatabases:
    """Private databases of this test session, created on demand and dropped at the end."""

    admin_url: str
    prefix: str
    created: list[str]

    def url(self, name: str) -> str:
        database = f"{self.prefix}_{name}"
        if database not in self.created:
            asyncio.run(self._admin(f'CREATE DATABASE "{database}"'))
            self.created.append(database)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"

    @property
    def rls_role(self) -> str:
        return f"{self.prefix}_rls"

    @property
    def tenant_database_prefix(self) -> str:
        return f"{self.prefix}d_"

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def _drop_all(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", self.prefix + "%"
            )
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            await conn.execute(f'DROP ROLE IF EXISTS "{self.rls_role}"')
        finally:
            await conn.close()

    def drop_all(self) -> None:
        asyncio.run(self._drop_all())


@pytest.fixture(scope="session")
def pg_databases(postgres_url: str) -> Iterator[PgDatabases]:
    """One private database per strategy for the whole session (tests use unique tenant slugs).

    Session rather than module scope because every DROP DATABASE forces a checkpoint, which costs
    seconds on a busy server; the databases are still private and dropped at the end.
    """
    databases = PgDatabases(postgres_url, f"rpt_{uuid.uuid4().hex[:8]}", [])
    try:
        yield databases
    finally:
        databases.drop_all()


STRATEGIES = [
    "sqlite-shared",
    pytest.param("pg-shared", marks=pytest.mark.postgres),
    pytest.param("pg-shared-rls", marks=pytest.mark.postgres),
    pytest.param("pg-schema", marks=pytest.mark.postgres),
    pytest.param("pg-database", marks=pytest.mark.postgres),
]


@dataclass(frozen=True)
class StrategyTarget:
    kind: str
    url: str
    databases: PgDatabases | None = None
    # Extra create_async_engine options (the PgBouncer suite passes its driver settings here).
    engine_options: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(params=STRATEGIES)
def strategy_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> StrategyTarget:
    """Where a strategy-parametrized test keeps its data (sync: it may create a database)."""
    kind: str = request.param
    if kind == "sqlite-shared":
        path = tmp_path_factory.mktemp("tenancy") / "control.db"
        return StrategyTarget(kind, f"sqlite+aiosqlite:///{path}")
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    return StrategyTarget(
        kind, databases.url(kind.removeprefix("pg-").replace("-", "_")), databases
    )


def build_strategy(target: StrategyTarget, *, pool: int = 4) -> IsolationStrategy:
    if target.kind == "sqlite-shared":
        return SharedTableStrategy(create_async_engine(target.url, pool_size=pool, max_overflow=0))
    databases = target.databases
    assert databases is not None
    engine = create_async_engine(
        target.url, **{"pool_size": pool, "max_overflow": 0, **target.engine_options}
    )
    if target.kind == "pg-shared":
        return SharedTableStrategy(engine)
    if target.kind == "pg-shared-rls":
        return SharedTableStrategy(engine, row_level_security=True, rls_role=databases.rls_role)
    if target.kind == "pg-schema":
        return SchemaPerTenantStrategy(engine)
    return DatabasePerTenantStrategy(
        engine,
        database_prefix=databases.tenant_database_prefix,
        max_engines=4,
        pool_size=2,
        engine_options=target.engine_options,
    )


@asynccontextmanager
async def installed_tenancy(
    target: StrategyTarget, clock: FakeClock, *, pool: int = 4
) -> AsyncIterator[Tenancy]:
    """A Tenancy on ``target``'s strategy, installed, disposed of when the block ends."""
    strategy = build_strategy(target, pool=pool)
    service = Tenancy(strategy.engine, strategy, clock=clock)
    await service.install()
    try:
        yield service
    finally:
        await service.dispose()


@pytest.fixture
async def tenancy(strategy_target: StrategyTarget, fake_clock: FakeClock) -> AsyncIterator[Tenancy]:
    """An installed Tenancy per isolation strategy (same behaviour expected of each)."""
    async with installed_tenancy(strategy_target, fake_clock) as service:
        yield service


@pytest.fixture
async def sqlite_tenancy(
    tmp_path_factory: pytest.TempPathFactory, fake_clock: FakeClock
) -> AsyncIterator[Tenancy]:
    path = tmp_path_factory.mktemp("tenancy") / "control.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    service = Tenancy(engine, SharedTableStrategy(engine), clock=fake_clock)
    await service.install()
    try:
        yield service
    finally:
        await service.dispose()
