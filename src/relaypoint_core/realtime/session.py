"""One inbound message, from arrival to acknowledgement: checks in a fixed order, one refusal shape.

Order: the `MessageLimiter` admits it (every message counts, even one about to be refused), a
handler exists, the connection's credential holds (or the event is `auth.refresh`), the
principal holds the event's permission, then the handler runs. A refusal is sent
as `message.refused` `{event, code, message, retry_after?}` and returned as the acknowledgement
`{"ok": false, "error": {...}}`; it never disconnects the client and never escapes as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from relaypoint_core.errors import RelayPointError
from relaypoint_core.message_limits import MessageLimiter
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.realtime.errors import ConnectionRefused
from relaypoint_core.realtime.lifetime import Lease
from relaypoint_core.realtime.metrics import MESSAGE_OUTCOMES, RealtimeMetrics
from relaypoint_core.realtime.rooms import TenantChannel
from relaypoint_core.request_state import Principal, ResolvedTenant

__all__ = ["Connection", "EventHandler", "InboundDispatcher"]

logger = logging.getLogger("relaypoint.realtime")


@dataclass(frozen=True, slots=True)
class Connection:
    """What an event handler knows about the connection that sent the event.

    Attributes:
        sid: The Socket.IO session id.
        principal: The verified caller (as of the last connect or refresh).
        tenant: The verified tenant, when the server has a tenant verifier.
        channel: Emission to the connection's own tenant (and only that tenant).
    """

    sid: str
    principal: Principal
    tenant: ResolvedTenant | None
    channel: TenantChannel
    reply: Callable[[str, str, Any], Awaitable[None]]

    async def emit(self, event: str, data: Any = None) -> None:
        """Send `event` to this connection only."""
        await self.reply(self.sid, event, data)


EventHandler = Callable[[Connection, Any], Awaitable[Any]]


class InboundDispatcher:
    """Runs the checks of every inbound message and the handler behind them."""

    def __init__(
        self,
        *,
        checker: PermissionChecker,
        limiter: MessageLimiter | None,
        limiter_failure: str,
        metrics: RealtimeMetrics,
        refuse: Callable[[str, dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.checker = checker
        self.limiter = limiter
        self.limiter_failure = limiter_failure
        self.metrics = metrics
        self._refuse = refuse

    async def refuse(
        self,
        lease: Lease,
        event: str,
        label: str,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> dict[str, Any]:
        """Tell the client (event and ack) that its message was refused, and count it."""
        payload: dict[str, Any] = {"event": event, "code": code, "message": message}
        if retry_after is not None:
            payload["retry_after"] = retry_after
        self.metrics.message_in(label, code if code in MESSAGE_OUTCOMES else "invalid")
        await self._refuse(lease.sid, payload)
        return {"ok": False, "error": payload}

    async def run(
        self,
        lease: Lease,
        event: str,
        label: str,
        data: Any,
        *,
        permission: str | None,
        handler: Callable[[Lease, Any], Awaitable[Any]] | None,
        always: bool = False,
    ) -> Any:
        """Check and handle one message; returns the acknowledgement.

        Every message is counted first, whatever happens to it next, so that a client cannot
        flood the server with events it has no handler or no permission for.
        """
        refused = await self._over_limit(lease, event, label)
        if refused is not None:
            return refused
        if handler is None:
            return await self.refuse(
                lease, event, label, "unknown_event", f"this server handles no event {event!r}"
            )
        if not lease.active and not always:
            return await self.refuse(
                lease,
                event,
                label,
                "reauthenticate",
                f"your credential {lease.state.value}; send 'auth.refresh' first",
            )
        if permission is not None and not self.checker.check_principal(lease.principal, permission):
            return await self.refuse(
                lease, event, label, "forbidden", f"permission {permission!r} required"
            )
        try:
            result = await handler(lease, data)
        except ConnectionRefused as refusal:
            return await self.refuse(lease, event, label, refusal.code, refusal.message)
        except RelayPointError as exc:
            return await self.refuse(lease, event, label, "invalid", str(exc))
        except Exception:
            logger.exception("realtime handler of %r failed", event)
            return await self.refuse(lease, event, label, "error", "the server could not handle it")
        self.metrics.message_in(label, "handled")
        return result

    async def _over_limit(self, lease: Lease, event: str, label: str) -> dict[str, Any] | None:
        if self.limiter is None:
            return None
        try:
            verdict = await self.limiter.check_message(lease.principal, event, tenant=lease.tenant)
        except Exception:
            self.metrics.backend_error("limiter")
            logger.warning("realtime message limiter failed (policy: %s)", self.limiter_failure)
            if self.limiter_failure == "closed":
                return await self.refuse(
                    lease, event, label, "rate_limited", "messages cannot be counted now"
                )
            return None
        if verdict.allowed:
            return None
        return await self.refuse(
            lease,
            event,
            label,
            "rate_limited",
            f"too many messages (policy {verdict.policy or 'default'})",
            retry_after=verdict.retry_after,
        )
