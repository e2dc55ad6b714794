"""Every exception RelayPoint raises derives from :class:`RelayPointError`.

Each package adds its own ``errors.py`` with subclasses; messages say what went wrong *and* what
to do about it, because they end up in a user's logs, not in our debugger.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BackendUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "InvalidTenantIdError",
    "MissingExtraError",
    "NoTenantError",
    "RelayPointError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenReuseError",
    "TokenRevokedError",
]


class RelayPointError(Exception):
    """Base class of every error raised by a RelayPoint package."""


class ConfigurationError(RelayPointError):
    """The SDK was configured in a way that cannot work; the message names the setting to fix."""


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is needed for the requested feature and is not installed."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        self.feature = feature
        super().__init__(
            f"{feature} needs the optional dependency '{module}', which is not installed. "
            f"Install it with: pip install 'relaypoint[{extra}]'"
        )


class BackendUnavailableError(RelayPointError):
    """A storage backend (Redis, PostgreSQL) could not be reached or answered too slowly."""


class InvalidTenantIdError(RelayPointError, ValueError):
    """A tenant identifier is empty, too long or contains characters that are not allowed."""


class NoTenantError(RelayPointError, LookupError):
    """Code asked for the current tenant, but no tenant is bound to this context."""


class AuthenticationError(RelayPointError):
    """The caller could not be authenticated (HTTP 401)."""


class TokenInvalidError(AuthenticationError):
    """A token is malformed, badly signed, of the wrong type or fails a claim check."""


class TokenExpiredError(TokenInvalidError):
    """A token's ``exp`` lies in the past (beyond the configured leeway)."""


class TokenRevokedError(TokenInvalidError):
    """A token, or the refresh-token family it belongs to, was revoked."""


class TokenReuseError(TokenRevokedError):
    """An already-rotated refresh token was presented again: its whole family is now revoked."""


class AuthorizationError(RelayPointError):
    """The caller is authenticated but lacks the permission for this action (HTTP 403)."""


class ConflictError(RelayPointError):
    """A write lost a race with another write to the same record (HTTP 409): re-read and retry."""
