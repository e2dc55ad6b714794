"""Race-safe writes to tenant-plane rows: one statement decides, never a read-modify-write.

An ORM "load, change attributes, flush" loses updates under concurrency (two requests read
``run_count=4`` and both write 5) and raises ``StaleDataError`` when a concurrent request deleted
the row in between. These helpers express each write as a single ``UPDATE``/``DELETE`` whose
``WHERE`` clause is re-evaluated under the database's row lock, and report what happened:

- `atomic_update` sets values (which may be SQL expressions such as ``Model.count + 1``),
  bumps the version column, and returns the updated row, or ``None`` when no row matched; with
  ``expected_version`` it is an optimistic-concurrency check that raises
  `ConcurrentUpdateError` (409) when another write got there first.
- `delete_once` deletes and says whether *this* call removed the row. Of eight concurrent
  deletes of one row exactly one gets ``True``: that caller, and only that caller, gives back
  the quota the row held (``TenantManager.release_quota``), so usage is released exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_tenancy.errors import ConcurrentUpdateError

__all__ = ["atomic_update", "delete_once"]

M = TypeVar("M")


async def atomic_update(
    session: AsyncSession,
    model: type[M],
    *criteria: ColumnElement[bool],
    values: Mapping[str, Any],
    version_column: str | None = "version",
    expected_version: int | None = None,
) -> M | None:
    """``UPDATE model SET values [, version = version + 1] WHERE criteria RETURNING *``.

    Args:
        session: A tenant-bound session (its tenant filter and schema apply as for any query).
        model: The mapped class to update.
        *criteria: What selects the one row, e.g. ``Model.id == row_id``.
        values: Column name to new value or SQL expression (``Model.runs + 1``).
        version_column: The integer column bumped on every write; ``None`` for none.
        expected_version: When given, the update applies only if the row is still at this
            version.

    Returns:
        The updated row, refreshed from the database; ``None`` if no row matches ``criteria``.

    Raises:
        ConcurrentUpdateError: ``expected_version`` was given and the row is at another version.
    """
    changes: dict[str, Any] = dict(values)
    where = list(criteria)
    version: Any = None
    if version_column is not None:
        version = getattr(model, version_column)
        changes[version_column] = version + 1
        if expected_version is not None:
            where.append(version == expected_version)
    elif expected_version is not None:
        raise ValueError("expected_version needs a version_column")
    statement = (
        update(model)
        .where(*where)
        .values(changes)
        .returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    row: M | None = (await session.execute(statement)).scalars().first()
    if row is not None or expected_version is None:
        return row
    actual = (await session.execute(select(version).where(*criteria))).scalar_one_or_none()
    if actual is None:
        return None
    raise ConcurrentUpdateError(expected=expected_version, actual=int(actual))


async def delete_once(
    session: AsyncSession, model: type[Any], *criteria: ColumnElement[bool]
) -> bool:
    """``DELETE FROM model WHERE criteria``; whether this call removed a row.

    Args:
        session: A tenant-bound session.
        model: The mapped class to delete from.
        *criteria: What selects the row(s).

    Returns:
        ``True`` if at least one row was deleted by this statement, ``False`` if none matched
        (already deleted by a concurrent call, or never there).
    """
    statement = delete(model).where(*criteria).execution_options(synchronize_session=False)
    result: Any = await session.execute(statement)
    return bool(result.rowcount)
