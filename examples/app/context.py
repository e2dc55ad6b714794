"""Who is calling and for which tenant, as one dependency of the app's routes (SDK dependencies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from examples.app.runtime import get_runtime
from relaypoint_core.fastapi import get_current_principal
from relaypoint_core.request_state import Principal
from relaypoint_tenancy import TenantInfo
from relaypoint_tenancy.fastapi import current_tenant_info

__all__ = ["CallContext", "call_context"]

_tenant = current_tenant_info(lambda request: get_runtime(request).tenants)


@dataclass(frozen=True)
class CallContext:
    principal: Principal
    tenant: TenantInfo


async def call_context(
    request: Request,
    principal: Annotated[Principal, Depends(get_current_principal)],
    tenant: Annotated[TenantInfo, Depends(_tenant)],
) -> CallContext:
    get_runtime(request).meter.count(tenant.id)
    return CallContext(principal=principal, tenant=tenant)
