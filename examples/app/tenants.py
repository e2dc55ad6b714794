"""How the app shows tenants (its API's shapes); the tenancy itself is ``relaypoint_tenancy``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from relaypoint_tenancy import Tenancy, TenantInfo, UsageInfo
from relaypoint_tenancy.models import AuditEvent

__all__ = ["audit_events", "tenant_to_dict", "usage_items"]


def tenant_to_dict(tenant: TenantInfo) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "plan_tier": tenant.plan_tier.value,
        "status": tenant.status.value,
        "branding": dict(tenant.branding),
    }


def usage_items(usage: Mapping[str, UsageInfo]) -> list[dict[str, Any]]:
    return [
        {"resource": name, "used": info.used, "limit": info.limit, "period": str(info.period)}
        for name, info in sorted(usage.items())
    ]


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


async def audit_events(
    tenancy: Tenancy, tenant: TenantInfo, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    async with tenancy.transaction(tenant) as session:
        rows = (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == tenant.id)
                .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).scalars()
        return [
            {
                "id": row.id,
                "actor": row.actor,
                "action": row.action,
                "detail": dict(row.detail or {}),
                "created_at": _iso(row.created_at),
            }
            for row in rows
        ]
