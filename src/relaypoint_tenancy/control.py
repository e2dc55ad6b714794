"""`ControlPlane`: what every control-plane operation shares (session, strategy, clock, actor).

One unit of work per public operation (commit on success, roll back on any failure), tenant
lookup by slug or id, and the audit trail written to the tenant's own plane. The operation
modules (`lifecycle`, `domains`, `branding_ops`, `members`, `quota_ops`, `gdpr`) use it through
its public methods; `TenantManager` is the facade over them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, Result, Table, insert, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.clock import Clock
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy.errors import TenantNotFoundError
from relaypoint_tenancy.install_hint import not_installed
from relaypoint_tenancy.models import AuditEvent, Tenant
from relaypoint_tenancy.plans import PlanCatalog
from relaypoint_tenancy.quotas import QuotaService
from relaypoint_tenancy.strategies import IsolationStrategy, TenantPlane, TenantRef
from relaypoint_tenancy.trials import utc_now

__all__ = ["FIND_MANY_CHUNK", "ControlPlane", "tenant_ref"]

_audit = cast(Table, AuditEvent.__table__)
# Keys per SELECT of `ControlPlane.find_many` (two bound parameters each: slug or id).
FIND_MANY_CHUNK = 400


def tenant_ref(row: Tenant) -> TenantRef:
    """The `TenantRef` (id, slug, data location) of a tenant row."""
    return TenantRef(row.id, row.slug, row.data_location)


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """The shared context of the control-plane operations.

    Attributes:
        session: the `AsyncSession` on the control database.
        strategy: the isolation strategy that owns tenant planes.
        catalog: the plan catalogue.
        clock: the injected clock.
        actor: who is recorded in audit events.
        quotas: the quota counters on ``session``.
    """

    session: AsyncSession
    strategy: IsolationStrategy
    catalog: PlanCatalog
    clock: Clock
    actor: str
    quotas: QuotaService

    def now(self) -> datetime:
        """The current time as a naive UTC datetime (how rows store it)."""
        return utc_now(self.clock)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        """One unit of work: commit on success, roll back on any failure.

        Raises:
            MissingExtraError: the failure came from a driver that is not installed.
        """
        try:
            yield
            await self.session.commit()
        except BaseException as exc:
            await self.session.rollback()
            hint = not_installed(exc)
            if hint is not None:
                raise hint from exc
            raise

    async def find(self, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
        """The tenant row with this slug or id, or ``None``.

        Raises:
            TenantNotFoundError: ``tenant_id`` is not a non-empty string.
        """
        if not isinstance(tenant_id, str) or not tenant_id:
            raise TenantNotFoundError(str(tenant_id))
        if not is_safe_id(tenant_id):  # slugs and ids both fit; NUL would be a 500 on PostgreSQL
            return None
        statement = select(Tenant).where(or_(Tenant.slug == tenant_id, Tenant.id == tenant_id))
        if for_update:
            statement = statement.with_for_update()
        return (await self._execute(statement)).scalar_one_or_none()

    async def find_many(self, tenant_ids: Iterable[str]) -> dict[str, Tenant]:
        """The tenant rows these slugs or ids name, in one SELECT (per `FIND_MANY_CHUNK` keys).

        Args:
            tenant_ids: Slugs or ids (client input is fine: what cannot be one is never sent).

        Returns:
            The row of each key that names a tenant; keys naming none are absent.
        """
        keys = list(dict.fromkeys(k for k in tenant_ids if isinstance(k, str) and is_safe_id(k)))
        by_name: dict[str, Tenant] = {}
        for start in range(0, len(keys), FIND_MANY_CHUNK):
            chunk = keys[start : start + FIND_MANY_CHUNK]
            statement = select(Tenant).where(or_(Tenant.slug.in_(chunk), Tenant.id.in_(chunk)))
            for row in (await self._execute(statement)).scalars().all():
                by_name[row.slug] = row
                by_name[row.id] = row
        return {key: by_name[key] for key in keys if key in by_name}

    async def _execute(self, statement: Executable) -> Result[Any]:
        """Run a read; a missing control table becomes the error that says how to install it."""
        try:
            return await self.session.execute(statement)
        except DBAPIError as exc:
            hint = not_installed(exc)
            if hint is None:
                raise
            await self.session.rollback()
            raise hint from exc

    async def load(self, tenant_id: str, *, for_update: bool = False) -> Tenant:
        """The tenant row with this slug or id.

        Raises:
            TenantNotFoundError: there is none.
        """
        row = await self.find(tenant_id, for_update=for_update)
        if row is None:
            raise TenantNotFoundError(tenant_id if is_safe_id(tenant_id) else "(invalid id)")
        return row

    async def audit(
        self, plane: TenantPlane, tenant: Tenant, action: str, detail: Mapping[str, Any]
    ) -> None:
        """Append an audit event to ``tenant``'s plane (inside the current unit of work)."""
        await plane.execute(
            insert(_audit).values(
                tenant_id=tenant.id,
                actor=self.actor,
                action=action,
                detail=dict(detail),
                created_at=self.now(),
            )
        )

    async def audit_only(self, tenant: Tenant, action: str, detail: Mapping[str, Any]) -> None:
        """Open ``tenant``'s plane just to append an audit event."""
        conn = await self.session.connection()
        async with self.strategy.tenant_plane(conn, tenant_ref(tenant)) as plane:
            await self.audit(plane, tenant, action, detail)
