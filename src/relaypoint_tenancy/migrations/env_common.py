"""Online ``env.py`` logic for running a stream with the ``alembic`` command line or API.

Pass a connection in ``config.attributes["connection"]`` (a sync connection, e.g. from
``AsyncConnection.run_sync``), or a URL as ``-x url=...`` / ``sqlalchemy.url`` (an async driver URL
such as ``postgresql+asyncpg://``), and the target schema as ``-x schema=...`` or
``config.attributes["schema"]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from relaypoint_tenancy.migrations import VERSION_TABLES, Stream
from relaypoint_tenancy.validation import validate_identifier


def run(stream: Stream) -> None:
    config = context.config
    arguments = context.get_x_argument(as_dictionary=True)
    schema: str | None = config.attributes.get("schema") or arguments.get("schema")
    if schema is not None:
        validate_identifier(schema, what="schema name")
    options: dict[str, Any] = {
        "version_table": VERSION_TABLES[stream],
        "version_table_schema": schema,
    }

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(
            url=arguments.get("url") or config.get_main_option("sqlalchemy.url"),
            literal_binds=True,
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        migrate(connection)
        return
    url = arguments.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("pass -x url=postgresql+asyncpg://... or set sqlalchemy.url")

    async def run_async() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run_async())
