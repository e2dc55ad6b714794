"""`QuotaControls`: quota use and per-tenant overrides, each override change audited."""

from __future__ import annotations

from collections.abc import Mapping

from relaypoint_core.text import is_safe_id
from relaypoint_tenancy.control import ControlPlane
from relaypoint_tenancy.errors import QuotaExceeded, TenancyError, TenantNotFoundError
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.records import TenantInfo, UsageInfo

__all__ = ["QuotaControls"]


class QuotaControls:
    """Quota operations on tenants named by slug or id, through the shared `ControlPlane`."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control

    async def consume(self, tenant_id: str, resource: str, amount: int = 1) -> int:
        """See `TenantManager.consume_quota`."""
        control = self.control
        async with control.unit():
            return await control.quotas.consume(await control.load(tenant_id), resource, amount)

    async def consume_many(
        self, resource: str, amounts: Mapping[str, int]
    ) -> dict[str, int | QuotaExceeded | TenantNotFoundError]:
        """See `Tenancy.consume_quotas`: one SELECT finds every tenant, one UPDATE counts them."""
        control = self.control
        found: dict[str, int | QuotaExceeded | TenantNotFoundError] = {}
        async with control.unit():
            rows = await control.find_many(amounts)
            pending: list[tuple[str, Tenant, int]] = []
            for tenant_id, amount in amounts.items():
                row = rows.get(tenant_id)
                if row is not None:
                    pending.append((tenant_id, row, amount))
                elif isinstance(tenant_id, str) and is_safe_id(tenant_id):
                    found[tenant_id] = TenantNotFoundError(tenant_id)
                else:
                    found[tenant_id] = TenantNotFoundError(
                        "(invalid id)"
                        if isinstance(tenant_id, str) and tenant_id
                        else str(tenant_id)
                    )
            while pending:  # a tenant named twice (slug and id) is counted in a second round
                batch: dict[str, tuple[str, Tenant, int]] = {}
                later: list[tuple[str, Tenant, int]] = []
                for item in pending:
                    if item[1].id in batch:
                        later.append(item)
                    else:
                        batch[item[1].id] = item
                counted = await control.quotas.consume_many(
                    resource, [(row, amount) for _, row, amount in batch.values()]
                )
                for tenant_id, row, _ in batch.values():
                    found[tenant_id] = counted[row.id]
                pending = later
        return {tenant_id: found[tenant_id] for tenant_id in amounts}

    async def release(self, tenant_id: str, resource: str, amount: int = 1) -> None:
        """See `TenantManager.release_quota`."""
        control = self.control
        async with control.unit():
            await control.quotas.release(await control.load(tenant_id), resource, amount)

    async def usage(self, tenant_id: str) -> dict[str, UsageInfo]:
        """See `TenantManager.get_usage`."""
        control = self.control
        async with control.unit():
            return await control.quotas.usage(await control.load(tenant_id))

    async def set_override(self, tenant_id: str, resource: str, limit: int | None) -> TenantInfo:
        """See `TenantManager.set_quota_override`."""
        if limit is not None and limit < 0:
            raise TenancyError("a quota limit cannot be negative")
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            row.quota_overrides = {**(row.quota_overrides or {}), resource: limit}
            row.updated_at = control.now()
            await control.audit_only(row, "quota.override", {"resource": resource, "limit": limit})
            await control.session.flush()
            return TenantInfo.from_row(row)

    async def clear_override(self, tenant_id: str, resource: str) -> TenantInfo:
        """See `TenantManager.clear_quota_override`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            overrides = dict(row.quota_overrides or {})
            had_override = resource in overrides
            previous = overrides.pop(resource, None)
            row.quota_overrides = overrides
            row.updated_at = control.now()
            await control.audit_only(
                row,
                "quota.override_cleared",
                {"resource": resource, "previous_limit": previous, "had_override": had_override},
            )
            await control.session.flush()
            return TenantInfo.from_row(row)
