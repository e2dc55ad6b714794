"""Rooms are derived from the verified principal, and emission can only name rooms of one tenant.

A connection joins `t:<tenant>` (everyone of the tenant), `t:<tenant>:u:<user>` (every connection
of one user) and `t:<tenant>:r:<role>` (per role, e.g. tenant admins). Each part is key-escaped, so
no tenant, user or role id can contain the `:` that would reach into another tenant's rooms, and
clients have no way to join a room: only the server puts a connection in its rooms, at connect.

`TenantChannel` is the emission API: bound to one tenant, it has no parameter that names a room.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from relaypoint_core.keys import escape_key_part
from relaypoint_core.request_state import Principal
from relaypoint_core.tenant_context import get_current_tenant, validate_tenant_id

__all__ = [
    "RoomSend",
    "TenantChannel",
    "role_room",
    "rooms_of",
    "tenant_room",
    "user_room",
]


def tenant_room(tenant_id: str) -> str:
    """The room of every connection of `tenant_id`."""
    return f"t:{escape_key_part(validate_tenant_id(tenant_id))}"


def user_room(tenant_id: str, user_id: str) -> str:
    """The room of every connection of one user in one tenant."""
    return f"{tenant_room(tenant_id)}:u:{escape_key_part(str(user_id))}"


def role_room(tenant_id: str, role: str) -> str:
    """The room of every connection holding `role` in `tenant_id`."""
    return f"{tenant_room(tenant_id)}:r:{escape_key_part(str(role))}"


def rooms_of(principal: Principal) -> frozenset[str]:
    """The rooms a verified principal's connection belongs to (none without a tenant)."""
    if principal.tenant_id is None:
        return frozenset()
    tenant = principal.tenant_id
    return frozenset(
        {
            tenant_room(tenant),
            user_room(tenant, principal.user_id),
            *(role_room(tenant, role) for role in principal.roles),
        }
    )


RoomSend = Callable[[str, str, Any, str], Awaitable[None]]
"""How a channel hands one emission to the server: `(room, event, data, target kind)`."""


class TenantChannel:
    """Emits to one tenant's rooms only.

    Args:
        send: The server's room sender (`RealtimeServer.tenant` passes it; you do not build it).
        tenant_id: The tenant this channel is bound to (validated).
    """

    __slots__ = ("_send", "tenant_id")

    def __init__(self, send: RoomSend, tenant_id: str) -> None:
        self._send = send
        self.tenant_id = validate_tenant_id(tenant_id)

    @classmethod
    def current(cls, send: RoomSend) -> TenantChannel:
        """The channel of the tenant bound to this context (set by the tenancy middleware).

        Raises:
            NoTenantError: No tenant is bound to this context.
        """
        return cls(send, get_current_tenant())

    async def emit(self, event: str, data: Any = None) -> None:
        """Send `event` to every connection of the tenant, on every instance."""
        await self._send(tenant_room(self.tenant_id), event, data, "tenant")

    async def emit_to_user(self, user_id: str, event: str, data: Any = None) -> None:
        """Send `event` to every connection of `user_id` in this tenant."""
        await self._send(user_room(self.tenant_id, user_id), event, data, "user")

    async def emit_to_role(self, role: str, event: str, data: Any = None) -> None:
        """Send `event` to the connections in this tenant whose principal holds `role`."""
        await self._send(role_room(self.tenant_id, role), event, data, "role")
