"""Auth errors: the core's token errors plus the few that only auth raises."""

from __future__ import annotations

from relaypoint_core.errors import (
    AuthenticationError,
    AuthorizationError,
    TokenExpiredError,
    TokenInvalidError,
    TokenReuseError,
    TokenRevokedError,
)

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "InvalidCredentialsError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenNotYetValidError",
    "TokenReuseError",
    "TokenRevokedError",
]


class InvalidCredentialsError(AuthenticationError):
    """Login failed. The message never says whether the email or the password was wrong."""

    def __init__(self) -> None:
        super().__init__("invalid email or password")


class TokenNotYetValidError(TokenInvalidError):
    """A token's ``nbf`` (or ``iat``) lies in the future beyond the leeway: check the clocks."""
