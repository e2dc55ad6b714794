"""``TenantAuditLog``: a ``relaypoint_core.audit.AuditLog`` that writes each event into the audit
table of the tenant it concerns, so auth events (logins, refresh reuse, denials) live with the
tenant's own data and leave with it on export or deletion. Events without a tenant are skipped
(combine with ``LoggingAuditLog`` in a ``FanOutAuditLog`` to keep them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from relaypoint_core.audit import AuditEvent as CoreAuditEvent
from relaypoint_tenancy.models import AuditEvent

if TYPE_CHECKING:
    from relaypoint_tenancy.service import Tenancy

__all__ = ["TenantAuditLog"]

_SCALARS = (str, int, float, bool, type(None))


class TenantAuditLog:
    """Writes audit events into their tenant's ``rp_audit_events``.

    Args:
        tenancy: The application's wired tenancy.
    """

    def __init__(self, tenancy: Tenancy) -> None:
        self.tenancy = tenancy

    async def record(self, event: CoreAuditEvent) -> None:
        """Store ``event`` with its tenant (no-op for events without a known tenant).

        Args:
            event: The audit event.
        """
        if event.tenant_id is None:
            return
        tenant = await self.tenancy.get_tenant(event.tenant_id)
        if tenant is None:
            return
        detail = {
            "outcome": event.outcome,
            "target": event.target,
            **{k: v for k, v in event.details.items() if isinstance(v, _SCALARS)},
        }
        async with self.tenancy.transaction(tenant) as session:
            session.add(
                AuditEvent(
                    tenant_id=tenant.id,
                    actor=event.actor,
                    action=event.action,
                    detail=detail,
                    created_at=datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None),
                )
            )
