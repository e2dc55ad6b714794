"""`BrandingControls`: read and patch a tenant's stored branding (validated by `branding`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relaypoint_tenancy.branding import BrandingConfig, validate_branding
from relaypoint_tenancy.control import ControlPlane
from relaypoint_tenancy.records import TenantInfo

__all__ = ["BrandingControls"]


class BrandingControls:
    """Branding of tenants, through the shared `ControlPlane`."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control

    async def update(self, tenant_id: str, branding_config: Mapping[str, Any]) -> BrandingConfig:
        """See `TenantManager.update_branding`."""
        control = self.control
        patch = validate_branding(branding_config)
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            merged = dict(row.branding or {})
            for key in patch.model_fields_set:
                value = getattr(patch, key)
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            result = validate_branding(merged)
            row.branding = result.model_dump(exclude_none=True)
            row.updated_at = control.now()
            await control.audit_only(
                row, "branding.updated", {"keys": sorted(patch.model_fields_set)}
            )
            await control.session.flush()
            return result

    async def get(self, tenant_id: str) -> BrandingConfig:
        """See `TenantManager.get_branding`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            return validate_branding(TenantInfo.from_row(row).branding)
