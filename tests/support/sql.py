"""The SQL statements an engine sends, recorded with SQLAlchemy's cursor hook (a count can be
asserted; a time cannot)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def recorded_statements(engine: AsyncEngine, *, verbs: bool = False) -> Iterator[list[str]]:
    """Every statement ``engine`` sends inside the block, or only its verb (``SELECT``, ...)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement.split(None, 1)[0].upper() if verbs else statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
