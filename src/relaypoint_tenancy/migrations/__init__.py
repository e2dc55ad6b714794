"""Alembic migrations shipped with the package, in two streams.

* ``control``: the control-plane tables, once per control database (version table
  ``rp_control_version``);
* ``tenant``: the tenant-plane tables, once per tenant schema or tenant database, or once in the
  default schema for shared tables (version table ``rp_tenant_version`` beside them).

The revision scripts are ordinary Alembic scripts (``env.py`` runs them online for the ``alembic``
command line). Inside the SDK they are rendered once per (stream, dialect, starting revision) to SQL
with Alembic's offline mode and that SQL is executed on an async connection. Rendering touches
Alembic's module-global ``op``/``context`` proxies only for a moment, without awaiting, so many
tenants can be migrated concurrently on one event loop without the proxies being swapped under a
running migration; and 200 tenants cost 1 rendering, not 200.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Literal

from alembic import op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from relaypoint_tenancy.validation import quote_identifier

__all__ = [
    "VERSION_TABLES",
    "Stream",
    "current_revision",
    "head_revision",
    "script_directory",
    "target_schema",
    "upgrade",
    "upgrade_statements",
]

Stream = Literal["control", "tenant"]
VERSION_TABLES: dict[Stream, str] = {"control": "rp_control_version", "tenant": "rp_tenant_version"}
_HERE = Path(__file__).resolve().parent
_PLACEHOLDER = "__rp_target_schema__"


def target_schema() -> str | None:
    """Inside a revision script: the schema being migrated (``None`` = the default schema)."""
    context: MigrationContext = op.get_context()
    return context.version_table_schema


@cache
def script_directory(stream: Stream) -> ScriptDirectory:
    return ScriptDirectory(str(_HERE / stream))


def head_revision(stream: Stream) -> str:
    head = script_directory(stream).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError(f"migration stream {stream!r} has no revisions")
    return head


@cache
def _rendered(stream: Stream, dialect: str, from_rev: str | None, with_schema: bool) -> str:
    script = script_directory(stream)
    config = Config()
    config.set_main_option("script_location", str(_HERE / stream))
    buffer = io.StringIO()

    def upgrade_fn(rev: object, context: object) -> object:
        # What `alembic upgrade` runs, through ScriptDirectory's public revision walk.
        scripts = reversed(list(script.iterate_revisions("head", from_rev, implicit_base=True)))
        return [MigrationStep.upgrade_from_script(script.revision_map, s) for s in scripts]

    with EnvironmentContext(
        config, script, fn=upgrade_fn, as_sql=True, starting_rev=from_rev, destination_rev="head"
    ) as env:
        env.configure(
            dialect_name=dialect,
            output_buffer=buffer,
            version_table=VERSION_TABLES[stream],
            version_table_schema=_PLACEHOLDER if with_schema else None,
            transactional_ddl=False,
            literal_binds=True,
        )
        with env.begin_transaction():
            env.run_migrations()
    return buffer.getvalue()


def upgrade_statements(
    stream: Stream, dialect: str, from_rev: str | None, schema: str | None
) -> list[str]:
    """The SQL statements that bring ``schema`` (validated) from ``from_rev`` to head."""
    sql = _rendered(stream, dialect, from_rev, schema is not None)
    if schema is not None:
        quoted = quote_identifier(schema, what="schema name")
        sql = sql.replace(f'"{_PLACEHOLDER}"', quoted).replace(_PLACEHOLDER, quoted)
    return [part.strip() for part in sql.split(";\n\n") if part.strip()]


def _version_table(stream: Stream, schema: str | None) -> str:
    table = VERSION_TABLES[stream]
    return f"{quote_identifier(schema, what='schema name')}.{table}" if schema else table


async def current_revision(conn: AsyncConnection, stream: Stream, schema: str | None) -> str | None:
    """The revision ``schema`` is at, or ``None`` when the stream was never applied there."""
    table = VERSION_TABLES[stream]
    if conn.dialect.name == "postgresql":
        exists = (
            await conn.execute(
                text("SELECT to_regclass(:name) IS NOT NULL"),
                {"name": _version_table(stream, schema)},
            )
        ).scalar_one()
    else:
        exists = (
            await conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": table},
            )
        ).scalar_one() > 0
    if not exists:
        return None
    row = (
        await conn.execute(text(f"SELECT version_num FROM {_version_table(stream, schema)}"))  # noqa: S608 - validated, quoted identifier
    ).first()
    return None if row is None else str(row[0])


async def upgrade(
    conn: AsyncConnection,
    stream: Stream,
    schema: str | None = None,
    *,
    from_rev: str | Literal["detect"] | None = "detect",
) -> bool:
    """Bring ``stream`` to head in ``schema`` on ``conn`` (inside the caller's transaction).

    Returns ``False`` when it was already at head. Pass ``from_rev`` when the caller already knows
    the current revision (the cross-tenant runner reads all of them in one query).
    """
    start = await current_revision(conn, stream, schema) if from_rev == "detect" else from_rev
    if start == head_revision(stream):
        return False
    for statement in upgrade_statements(stream, conn.dialect.name, start, schema):
        await conn.exec_driver_sql(statement)
    return True
