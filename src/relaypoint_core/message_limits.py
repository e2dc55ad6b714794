"""The contract between a message transport (WebSocket, Socket.IO) and a message rate limiter.

Core defines the shape; ``relaypoint_ratelimit`` implements it and the real-time layer consumes it,
so neither imports the other. A transport asks once per inbound message and refuses the message
(with an error event, not a disconnect) when the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from relaypoint_core.request_state import Principal, ResolvedTenant

__all__ = ["MessageLimiter", "MessageVerdict"]


@dataclass(frozen=True, slots=True)
class MessageVerdict:
    """The answer for one inbound message.

    Attributes:
        allowed: Whether the message may be handled.
        retry_after: Seconds until a refused message would be admitted; ``None`` when allowed.
        policy: Name of the policy that refused the message; ``None`` when allowed.
        remaining: Messages still admitted in the tightest window, when the limiter knows it.
    """

    allowed: bool
    retry_after: float | None = None
    policy: str | None = None
    remaining: int | None = None


@runtime_checkable
class MessageLimiter(Protocol):
    """Decides whether one inbound message from a verified caller may be handled."""

    async def check_message(
        self,
        principal: Principal,
        event: str,
        *,
        tenant: ResolvedTenant | None = None,
        cost: int = 1,
    ) -> MessageVerdict:
        """Count one message of ``event`` against the caller's limits and say whether it passes.

        Args:
            principal: The caller verified when the connection was made (or last refreshed).
            event: The inbound event name, for per-event policies.
            tenant: The verified tenant of the connection, when there is one.
            cost: How many units the message consumes.

        Returns:
            The verdict; a refusal consumes nothing.
        """
        ...
