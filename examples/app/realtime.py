"""Live updates: the SDK's `RealtimeServer` mounted at `/socket.io`, and the events the app emits.

Clients connect with their access token or an API key (`{"token": ...}` auth payload or
`Authorization` header) and are put in their tenant's rooms by the server. Routes call `publish` (to the whole
tenant) and `publish_to_admins` (to the tenant's admins); a failed notification is logged and
never fails the REST call that raised it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from examples.app.runtime import Runtime
from relaypoint_core.rbac import Role
from relaypoint_core.realtime import CredentialAuthenticator, RealtimeServer
from relaypoint_core.request_state import Principal, ResolvedTenant
from relaypoint_tenancy import TenantNotFoundError, TenantStatus, TenantSuspendedError

__all__ = ["ADMIN_ROLE", "install_realtime", "publish", "publish_to_admins"]

logger = logging.getLogger("examples.app")
ADMIN_ROLE = Role.TENANT_ADMIN.value


def install_realtime(app: FastAPI, runtime: Runtime) -> RealtimeServer:
    """Build the real-time server on the runtime's token service and mount it at `/socket.io`."""
    config = runtime.config

    async def verify_tenant(principal: Principal) -> ResolvedTenant:
        slug = principal.tenant_id or ""
        info = await runtime.tenants.get(slug)
        if info is None:
            raise TenantNotFoundError(slug)
        if info.status is TenantStatus.SUSPENDED:
            raise TenantSuspendedError(slug)
        return ResolvedTenant(info.slug, info.plan_tier.value, info.status.value)

    server = RealtimeServer(
        CredentialAuthenticator(runtime.auth),  # access tokens and API keys
        redis_url=config.redis_url,
        channel=f"{config.key_prefix}realtime",
        tenant_verifier=verify_tenant,
        cors_allowed_origins=config.settings.CORS_ORIGINS,  # and the app's own origin
    )
    runtime.realtime = server
    app.mount("/socket.io", server.asgi_app())
    return server


async def publish(runtime: Runtime, tenant_slug: str, event: str, data: dict[str, Any]) -> None:
    """Send `event` `{...data, tenant_id: <slug>}` to every live connection of the tenant."""
    if runtime.realtime is None:
        return
    try:
        await runtime.realtime.tenant(tenant_slug).emit(event, {**data, "tenant_id": tenant_slug})
    except Exception:  # a notification must never turn a successful write into an error
        logger.exception("realtime: could not publish %s to tenant %s", event, tenant_slug)


async def publish_to_admins(
    runtime: Runtime, tenant_slug: str, event: str, data: dict[str, Any]
) -> None:
    """Send `event` to the tenant's admins only (usage and rate-limit state)."""
    if runtime.realtime is None:
        return
    try:
        await runtime.realtime.tenant(tenant_slug).emit_to_role(
            ADMIN_ROLE, event, {**data, "tenant_id": tenant_slug}
        )
    except Exception:
        logger.exception("realtime: could not publish %s to admins of %s", event, tenant_slug)
