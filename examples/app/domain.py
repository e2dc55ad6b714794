"""The app's own domain: workflows and their runs, stored per tenant.

Every row carries ``tenant_id`` and every query of :class:`WorkflowRepository` filters on it,
whatever isolation the tenancy package adds underneath: a repository is built for one tenant
and cannot be asked about another.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from relaypoint_core.monitoring import track_db_query
from relaypoint_tenancy.models import TENANT_SCHEMA, TenantScoped
from relaypoint_tenancy.writes import atomic_update, delete_once

__all__ = [
    "APP_TENANT_TABLES",
    "AppTenantBase",
    "Workflow",
    "WorkflowNotFound",
    "WorkflowRepository",
    "WorkflowRun",
    "WorkflowStatus",
    "run_steps",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class AppTenantBase(DeclarativeBase):
    """Tenant-plane tables of the app: declared in the tenancy package's placeholder schema, which
    each tenant-bound session translates to where that tenant's data lives."""

    metadata = MetaData(schema=TENANT_SCHEMA)


class WorkflowStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class Workflow(TenantScoped, AppTenantBase):
    __tablename__ = "app_workflows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=WorkflowStatus.DRAFT.value)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "steps": list(self.steps),
            "version": self.version,
            "run_count": self.run_count,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


class WorkflowRun(TenantScoped, AppTenantBase):
    __tablename__ = "app_workflow_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    workflow_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow_id": self.workflow_id,
            "status": self.status,
            "output": list(self.output),
            "started_by": self.started_by,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


APP_TENANT_TABLES: list[Table] = [Workflow.__table__, WorkflowRun.__table__]  # type: ignore[list-item]


def _iso(moment: datetime) -> str:
    # SQLite hands back naive datetimes; they were written as UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


class WorkflowNotFound(LookupError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"workflow {workflow_id!r} does not exist in this tenant")
        self.workflow_id = workflow_id


def run_steps(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a workflow's steps in order: a tiny, deterministic engine for the demo."""
    output: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        action = step.get("action", "noop")
        value = str(step.get("input", ""))
        if action == "uppercase":
            result: str | int = value.upper()
        elif action == "reverse":
            result = value[::-1]
        elif action == "length":
            result = len(value)
        else:
            result = value
        output.append({"step": index, "name": step.get("name", f"step-{index}"), "result": result})
    return output


class WorkflowRepository:
    """Workflow queries of one tenant; ``tenant_id`` is part of every statement."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    @track_db_query("SELECT", "app_workflows")
    async def count(self) -> int:
        statement = (
            select(func.count()).select_from(Workflow).where(Workflow.tenant_id == self.tenant_id)
        )
        return int((await self.session.execute(statement)).scalar_one())

    @track_db_query("SELECT", "app_workflows")
    async def page(self, *, limit: int, offset: int) -> list[Workflow]:
        statement = (
            select(Workflow)
            .where(Workflow.tenant_id == self.tenant_id)
            .order_by(Workflow.created_at, Workflow.id)
            .limit(limit)
            .offset(offset)
        )
        return list((await self.session.execute(statement)).scalars())

    @track_db_query("SELECT", "app_workflows")
    async def get(self, workflow_id: str) -> Workflow:
        statement = select(Workflow).where(
            Workflow.tenant_id == self.tenant_id, Workflow.id == workflow_id
        )
        workflow = (await self.session.execute(statement)).scalar_one_or_none()
        if workflow is None:
            raise WorkflowNotFound(workflow_id)
        return workflow

    @track_db_query("INSERT", "app_workflows")
    async def create(
        self,
        *,
        name: str,
        description: str,
        status: str,
        steps: list[dict[str, Any]],
        created_by: str,
    ) -> Workflow:
        workflow = Workflow(
            tenant_id=self.tenant_id,
            name=name,
            description=description,
            status=status,
            steps=steps,
            created_by=created_by,
        )
        self.session.add(workflow)
        await self.session.flush()
        return workflow

    def _this(self, workflow_id: str) -> tuple[Any, Any]:
        return Workflow.tenant_id == self.tenant_id, Workflow.id == workflow_id

    @track_db_query("UPDATE", "app_workflows")
    async def update(
        self, workflow_id: str, changes: dict[str, Any], *, expected_version: int | None = None
    ) -> Workflow:
        """One ``UPDATE`` (no read-modify-write): concurrent patches each bump the version once,
        and with ``expected_version`` a patch that lost the race is a 409, not an overwrite."""
        workflow = await atomic_update(
            self.session,
            Workflow,
            *self._this(workflow_id),
            values={**changes, "updated_at": _now()},
            expected_version=expected_version,
        )
        if workflow is None:
            raise WorkflowNotFound(workflow_id)
        return workflow

    @track_db_query("DELETE", "app_workflows")
    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow, then its runs; raises `WorkflowNotFound` unless *this* call
        removed the row, so of concurrent deletes exactly one succeeds (and releases quota)."""
        # The workflow row goes first: its row lock waits for a concurrent execute to commit,
        # so that execute's run is visible to the runs delete below and is not left behind.
        if not await delete_once(self.session, Workflow, *self._this(workflow_id)):
            raise WorkflowNotFound(workflow_id)
        await delete_once(
            self.session,
            WorkflowRun,
            WorkflowRun.tenant_id == self.tenant_id,
            WorkflowRun.workflow_id == workflow_id,
        )

    @track_db_query("INSERT", "app_workflow_runs")
    async def record_run(self, workflow: Workflow, *, started_by: str) -> WorkflowRun:
        """Count the run with an atomic increment (no lost updates) and store it; raises
        `WorkflowNotFound` if the workflow was deleted since it was read."""
        started = _now()
        output = run_steps(workflow.steps)
        counted = await atomic_update(
            self.session,
            Workflow,
            *self._this(workflow.id),
            values={"run_count": Workflow.run_count + 1},
            version_column=None,
        )
        if counted is None:
            raise WorkflowNotFound(workflow.id)
        run = WorkflowRun(
            tenant_id=self.tenant_id,
            workflow_id=workflow.id,
            status="succeeded",
            output=output,
            started_by=started_by,
            started_at=started,
            finished_at=_now(),
        )
        self.session.add(run)
        await self.session.flush()
        return run
