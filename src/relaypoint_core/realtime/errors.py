"""Errors of the real-time layer, each a `RelayPointError`.

A refused connection or message is not an exception to the client: it becomes a `connect_error`
reason or a `message.refused` event. These exceptions are what the server code raises and what a
caller of the emission API may see.
"""

from __future__ import annotations

from relaypoint_core.errors import AuthenticationError, ConfigurationError, RelayPointError

__all__ = [
    "ConnectionRefused",
    "RealtimeConfigurationError",
    "RealtimeError",
]


class RealtimeError(RelayPointError):
    """Base class of the real-time layer's errors."""


class RealtimeConfigurationError(RealtimeError, ConfigurationError):
    """The real-time server was configured in a way that cannot work (the message says how)."""


class ConnectionRefused(RealtimeError, AuthenticationError):
    """A connection attempt was refused; `code` is the machine-readable reason sent to the client.

    Args:
        code: One of the fixed refusal codes (`missing_token`, `invalid_token`, `expired_token`,
            `revoked_token`, `tenant_mismatch`, `no_tenant`, `tenant_refused`, `unavailable`).
        message: A sentence for the client's developer saying what to do.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_payload(self) -> dict[str, str]:
        """The `connect_error` data the client receives."""
        return {"code": self.code, "message": self.message}
