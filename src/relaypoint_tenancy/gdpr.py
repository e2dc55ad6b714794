"""`TenantData`: GDPR export (everything stored about a tenant) and erasure."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from sqlalchemy import Table, delete, select

from relaypoint_tenancy.control import ControlPlane, tenant_ref
from relaypoint_tenancy.members import Members, jsonable
from relaypoint_tenancy.models import (
    AuditEvent,
    LoginIndex,
    Tenant,
    TenantDomain,
    UsageCounter,
    UserIndex,
)
from relaypoint_tenancy.records import TenantInfo

__all__ = ["EXPORT_FORMAT", "TenantData"]

logger = logging.getLogger("relaypoint.tenancy")

EXPORT_FORMAT = "relaypoint.tenant-export/1"

_audit = cast(Table, AuditEvent.__table__)


class TenantData:
    """Export and erasure of a tenant's data, through the shared `ControlPlane`."""

    def __init__(self, control: ControlPlane, members: Members) -> None:
        self.control = control
        self.members = members

    async def export_data(self, tenant_id: str) -> dict[str, Any]:
        """See `TenantManager.export_tenant_data`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            domains = (
                await control.session.execute(
                    select(TenantDomain)
                    .where(TenantDomain.tenant_id == row.id)
                    .order_by(TenantDomain.domain)
                )
            ).scalars()
            counters = (
                await control.session.execute(
                    select(UsageCounter)
                    .where(UsageCounter.tenant_id == row.id)
                    .order_by(UsageCounter.resource, UsageCounter.period)
                )
            ).scalars()
            conn = await control.session.connection()
            async with control.strategy.tenant_plane(conn, tenant_ref(row)) as plane:
                users = await self.members.users_with_roles(plane, row)
                events = (
                    await plane.execute(
                        select(_audit).where(_audit.c.tenant_id == row.id).order_by(_audit.c.id)
                    )
                ).all()
            info = TenantInfo.from_row(row)
            return {
                "format": EXPORT_FORMAT,
                "exported_at": jsonable(control.now()),
                "tenant": {
                    "id": info.id,
                    "slug": info.slug,
                    "name": info.name,
                    "plan_tier": info.plan_tier.value,
                    "status": info.status.value,
                    "isolation": info.isolation,
                    "trial_ends_at": jsonable(info.trial_ends_at),
                    "grace_ends_at": jsonable(info.grace_ends_at),
                    "created_at": jsonable(info.created_at),
                    "quota_overrides": info.quota_overrides,
                    "branding": info.branding,
                },
                "domains": [
                    {
                        "domain": d.domain,
                        "verified": d.verified,
                        "created_at": jsonable(d.created_at),
                        "verified_at": jsonable(d.verified_at),
                    }
                    for d in domains
                ],
                "usage": [
                    {"resource": c.resource, "period": c.period, "used": c.used} for c in counters
                ],
                "users": users,
                "audit_events": [
                    {
                        "id": e.id,
                        "actor": e.actor,
                        "action": e.action,
                        "detail": e.detail,
                        "created_at": jsonable(e.created_at),
                    }
                    for e in events
                ],
            }

    async def export_json(self, tenant_id: str) -> str:
        """See `TenantManager.export_tenant_json`."""
        return json.dumps(await self.export_data(tenant_id), indent=2, sort_keys=True)

    async def delete(self, tenant_id: str) -> None:
        """See `TenantManager.delete_tenant`."""
        control = self.control
        transactional = control.strategy.kind != "database"
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            ref = tenant_ref(row)
            conn = await control.session.connection()
            if transactional:
                await control.strategy.deprovision(conn, ref)
            for model in (UserIndex, LoginIndex, UsageCounter, TenantDomain):
                await control.session.execute(delete(model).where(model.tenant_id == row.id))
            await control.session.execute(delete(Tenant).where(Tenant.id == row.id))
        if not transactional:
            await control.strategy.deprovision(conn, ref)
        logger.info("tenant %s deleted with all its data", ref.slug)
