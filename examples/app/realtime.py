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
from relaypoint_core.message_limits import MessageVerdict
from relaypoint_core.rbac import Role
from relaypoint_core.realtime import CredentialAuthenticator, RealtimeServer
from relaypoint_core.request_state import Principal, ResolvedTenant
from relaypoint_ratelimit import MessageRateLimiter, RoutePolicy
from relaypoint_tenancy import TenantNotFoundError, TenantStatus, TenantSuspendedError

__all__ = [
    "ADMIN_ROLE",
    "MESSAGE_POLICY",
    "AppMessageLimits",
    "install_realtime",
    "publish",
    "publish_to_admins",
]

logger = logging.getLogger("examples.app")
ADMIN_ROLE = Role.TENANT_ADMIN.value
# Every inbound Socket.IO message of a user (refreshes and refused ones included).
MESSAGE_POLICY = RoutePolicy("ws.messages", "120/minute")


class AppMessageLimits:
    """The app's `MessageLimiter`: inbound messages count in the HTTP rate limiter's backend.

    The limiter is built with the middleware stack, after the real-time server, so the message
    limiter is made on first use; with rate limiting off every message passes.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._messages: MessageRateLimiter | None = None

    async def check_message(
        self,
        principal: Principal,
        event: str,
        *,
        tenant: ResolvedTenant | None = None,
        cost: int = 1,
    ) -> MessageVerdict:
        middleware = self.runtime.limiter
        if middleware is None or not middleware.enabled:
            return MessageVerdict(True)
        if self._messages is None:
            self._messages = MessageRateLimiter(middleware.limiter, MESSAGE_POLICY)
        return await self._messages.check_message(principal, event, tenant=tenant, cost=cost)


def install_realtime(app: FastAPI, runtime: Runtime) -> RealtimeServer:
    """Build the real-time server on the runtime's token service and mount it at `/socket.io`."""
    config = runtime.config

    async def verify_tenant(principal: Principal) -> ResolvedTenant:
        slug = principal.tenant_id or ""
        info = await runtime.tenants.get_tenant(slug)
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
        message_limiter=AppMessageLimits(runtime),
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
