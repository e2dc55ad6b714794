"""Pool-usage gauges follow a real engine's connection checkouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

from relaypoint_core.monitoring.db_pool import track_sqlalchemy_pool
from tests.core.monitoring.support import private_monitor


async def _exercise(url: str, **engine_options: object) -> None:
    monitor, registry = private_monitor()
    engine = create_async_engine(url, pool_size=2, max_overflow=1, **engine_options)
    track_sqlalchemy_pool(engine, name="primary", monitor=monitor)

    def gauge(name: str) -> float | None:
        return registry.get_sample_value(name, {"pool": "primary"})

    try:
        assert gauge("relaypoint_db_pool_size") == 3
        assert gauge("relaypoint_db_pool_connections_in_use") == 0
        first = await engine.connect()
        second = await engine.connect()
        await first.execute(text("SELECT 1"))
        assert gauge("relaypoint_db_pool_connections_in_use") == 2
        await first.close()
        assert gauge("relaypoint_db_pool_connections_in_use") == 1
        await second.close()
        assert gauge("relaypoint_db_pool_connections_in_use") == 0
    finally:
        await engine.dispose()


async def test_sqlite_engine_pool_usage(tmp_path: Path) -> None:
    await _exercise(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}", poolclass=AsyncAdaptedQueuePool
    )


async def test_postgres_engine_pool_usage(postgres_url: str) -> None:
    await _exercise(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))


async def test_unbounded_pools_are_refused() -> None:
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=NullPool)
    with pytest.raises(ValueError, match="QueuePool"):
        track_sqlalchemy_pool(engine)
    await engine.dispose()
