"""The interface every isolation strategy implements, and the tenant-bound ORM session.

A strategy answers three questions: where does a tenant's data live (``provision`` /
``deprovision``), how does the manager write a tenant's rows inside its unit of work
(``tenant_plane``), and how does application code get a session that can only see one tenant
(``session``). Whatever the strategy, the session also filters every ORM query on
`TenantScoped` models by ``tenant_id`` and stamps new rows with it.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from sqlalchemy import event
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, with_loader_criteria
from sqlalchemy.sql import Executable

from relaypoint_tenancy import migrations
from relaypoint_tenancy.errors import TenancyError
from relaypoint_tenancy.models import TENANT_SCHEMA, TenantScoped

__all__ = [
    "ALL_TENANTS_OPTION",
    "TENANT_INFO_KEY",
    "IsolationKind",
    "IsolationStrategy",
    "TenantIsolationError",
    "TenantPlane",
    "TenantRef",
    "TenantSession",
]

IsolationKind = Literal["shared", "schema", "database"]
TENANT_INFO_KEY = "relaypoint_tenant_id"
ALL_TENANTS_OPTION = "relaypoint_all_tenants"
"""Execution option that lifts the automatic filter for one statement (admin tooling only)."""


class TenantIsolationError(TenancyError):
    """Code tried to write a row of another tenant through a tenant-bound session."""


@dataclass(frozen=True, slots=True)
class TenantRef:
    """What a strategy needs to find a tenant's data."""

    id: str
    slug: str
    data_location: str | None = None


class TenantSession(Session):
    """The sync session class behind tenant-bound `AsyncSession` objects."""


def _written_tenant_ids(state: ORMExecuteState) -> list[object]:
    """Every ``tenant_id`` value an ORM-enabled INSERT/UPDATE statement would write."""
    found: list[object] = []
    parameters = state.parameters
    rows = parameters if isinstance(parameters, list) else [parameters] if parameters else []
    if not parameters:
        # Values given with .values(...): read them back from the statement. (ORM bulk
        # statements carry their rows in ``parameters`` instead and cannot be compiled alone.)
        statement: Any = state.statement
        for key, value in statement.compile().params.items():
            if key == "tenant_id" or key.startswith("tenant_id_m"):
                found.append(value)
    for row in rows:
        if isinstance(row, Mapping) and "tenant_id" in row:
            found.append(row["tenant_id"])
    return found


def _check_written_tenant(state: ORMExecuteState, tenant_id: str) -> None:
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantScoped):
        return
    for value in _written_tenant_ids(state):
        if value is not None and value != tenant_id:
            raise TenantIsolationError(
                f"refusing a statement that writes tenant_id {value!r} through a session bound "
                f"to tenant {tenant_id!r}"
            )


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_INFO_KEY)
    if tenant_id is None or state.execution_options.get(ALL_TENANTS_OPTION, False):
        return
    if state.is_insert or state.is_update:
        _check_written_tenant(state, tenant_id)
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantScoped,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
            )
        )


@event.listens_for(TenantSession, "before_flush")
def _stamp_tenant(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    tenant_id = session.info.get(TENANT_INFO_KEY)
    if tenant_id is None:
        return
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            current = getattr(obj, "tenant_id", None)
            if current is None:
                obj.tenant_id = tenant_id
            elif current != tenant_id:
                raise TenantIsolationError(
                    f"refusing to insert a {type(obj).__name__} of tenant {current!r} through a "
                    f"session bound to tenant {tenant_id!r}"
                )
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and getattr(obj, "tenant_id", tenant_id) != tenant_id:
            raise TenantIsolationError(
                f"refusing to move a {type(obj).__name__} to another tenant through a session "
                f"bound to tenant {tenant_id!r}"
            )


class TenantPlane:
    """Runs Core statements against one tenant's tables on a given connection.

    The schema translation is passed per statement, never set on the connection, so nothing of it
    survives the statement.
    """

    def __init__(self, conn: AsyncConnection, translate_to: str | None) -> None:
        self.connection = conn
        self._options: Mapping[str, Any] = {"schema_translate_map": {TENANT_SCHEMA: translate_to}}

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        return await self.connection.execute(statement, parameters, execution_options=self._options)


class IsolationStrategy(abc.ABC):
    """Where tenants' data lives and how sessions reach it."""

    kind: ClassVar[IsolationKind]

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def location_for(self, slug: str) -> str | None:
        """The schema or database name recorded for a new tenant (``None`` = shared tables)."""
        return None

    async def install(self, conn: AsyncConnection) -> None:
        """Bring the control plane (and any shared tenant tables) to head; idempotent."""
        await migrations.upgrade(conn, "control")

    @abc.abstractmethod
    async def provision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        """Create the tenant's isolation resources inside the caller's transaction if possible."""

    async def undo_provision(self, tenant: TenantRef) -> None:
        """Remove resources `provision` created outside the transaction (none by default)."""
        return

    @abc.abstractmethod
    async def deprovision(self, conn: AsyncConnection, tenant: TenantRef) -> None:
        """Remove the tenant's isolation resources and every row it owns."""

    @abc.abstractmethod
    def tenant_plane(
        self, conn: AsyncConnection, tenant: TenantRef
    ) -> Any:  # an async context manager yielding TenantPlane
        """Async context manager yielding a `TenantPlane` for the manager's writes."""

    @abc.abstractmethod
    def _bind_for(self, tenant: TenantRef) -> AsyncEngine: ...

    def _configure_session(self, session: AsyncSession, tenant: TenantRef) -> None:
        """Hook for strategies that must prepare every transaction (row-level security)."""
        return

    @asynccontextmanager
    async def session(self, tenant: TenantRef) -> AsyncIterator[AsyncSession]:
        """An ORM session that sees and writes only ``tenant``'s rows."""
        bind = await self._acquire(tenant)
        try:
            session = AsyncSession(
                bind=bind,
                sync_session_class=TenantSession,
                expire_on_commit=False,
                info={TENANT_INFO_KEY: tenant.id},
            )
            self._configure_session(session, tenant)
            async with session:
                yield session
        finally:
            await self._release(tenant)

    async def _acquire(self, tenant: TenantRef) -> AsyncEngine:
        return self._bind_for(tenant)

    async def _release(self, tenant: TenantRef) -> None:
        return None

    async def dispose(self) -> None:
        """Release what the strategy holds beyond the control engine (tenant engines)."""
        return
