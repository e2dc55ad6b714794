"""Who is calling and for which tenant: read from what the middlewares left in the ASGI scope."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from examples.app.runtime import get_runtime
from relaypoint_core.auth.asgi import AUTH_ERROR_STATE_KEY
from relaypoint_core.errors import AuthenticationError, AuthorizationError, NoTenantError
from relaypoint_core.request_state import Principal, get_scope_principal, get_scope_tenant
from relaypoint_tenancy import TenantInfo

__all__ = ["CallContext", "call_context", "current_principal", "current_tenant_info"]


@dataclass(frozen=True)
class CallContext:
    principal: Principal
    tenant: TenantInfo


def current_principal(request: Request) -> Principal:
    principal = get_scope_principal(request.scope)
    if principal is None:
        error = (request.scope.get("state") or {}).get(AUTH_ERROR_STATE_KEY)
        if isinstance(error, AuthenticationError):
            raise error
        raise AuthenticationError(
            "this endpoint needs an access token: Authorization: Bearer <token>"
        )
    return principal


async def current_tenant_info(request: Request) -> TenantInfo:
    resolved = get_scope_tenant(request.scope)
    if resolved is None:
        raise NoTenantError(
            "no tenant in this request: use /api/v1/tenants/{tenant_id}/..., the X-Tenant-ID "
            "header or the tenant's subdomain"
        )
    info = await get_runtime(request).tenants.get_tenant(resolved.tenant_id)
    if info is None:  # deleted between resolution and now
        raise NoTenantError(f"tenant {resolved.tenant_id!r} no longer exists")
    return info


async def call_context(request: Request) -> CallContext:
    principal = current_principal(request)
    tenant = await current_tenant_info(request)
    # The tenancy middleware already refuses a token of another tenant; checked again here so a
    # route can never serve one tenant's data to another's token, whatever the middleware order.
    if principal.tenant_id != tenant.slug:  # tokens carry the slug, the public identity
        raise AuthorizationError("this token belongs to another tenant")
    get_runtime(request).meter.count(tenant.id)
    return CallContext(principal=principal, tenant=tenant)
