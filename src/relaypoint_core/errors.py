"""Every exception RelayPoint raises derives from `RelayPointError`.

Each package adds its own ``errors.py`` with subclasses; messages say what went wrong *and* what
to do about it, because they end up in a user's logs, not in our debugger.

Every class also says how it is answered over HTTP (``relaypoint_core.http_errors`` reads these
class attributes; core never imports the sibling packages that define more subclasses):

* ``http_status``: the status code (500 unless a class says otherwise);
* ``problem_title`` and ``problem_slug``: the problem's ``title`` and the anchor of its entry on
  the errors docs page (the problem ``type`` is ``https://docs.relaypoint.ai/errors/#<slug>``);
* ``expose_detail``: whether the message may be shown to the client as ``detail`` (messages of
  configuration and backend errors can name hosts, URLs or settings, so they are not).
"""

from __future__ import annotations

from typing import ClassVar

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

    http_status: ClassVar[int] = 500
    problem_title: ClassVar[str] = "Internal server error"
    problem_slug: ClassVar[str] = "internal-error"
    expose_detail: ClassVar[bool] = False


class ConfigurationError(RelayPointError):
    """The SDK was configured in a way that cannot work; the message names the setting to fix."""

    http_status = 500
    problem_title = "Server misconfigured"
    problem_slug = "configuration-error"
    expose_detail = False


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is needed for the requested feature and is not installed."""

    http_status = 500
    problem_title = "Server misconfigured"
    problem_slug = "missing-extra"
    expose_detail = False

    def __init__(
        self, module: str, extra: str, feature: str, *, alternatives: tuple[str, ...] = ()
    ) -> None:
        self.module = module
        self.extra = extra
        self.feature = feature
        self.alternatives = alternatives
        others = "".join(f" (or 'relaypoint[{other}]')" for other in alternatives)
        super().__init__(
            f"{feature} needs the optional dependency '{module}', which is not installed. "
            f"Install it with: pip install 'relaypoint[{extra}]'{others}"
        )


class BackendUnavailableError(RelayPointError):
    """A storage backend (Redis, PostgreSQL) could not be reached or answered too slowly."""

    http_status = 503
    problem_title = "Service unavailable"
    problem_slug = "backend-unavailable"
    expose_detail = False


class InvalidTenantIdError(RelayPointError, ValueError):
    """A tenant identifier is empty, too long or contains characters that are not allowed."""

    http_status = 400
    problem_title = "Invalid tenant id"
    problem_slug = "invalid-tenant-id"
    expose_detail = True


class NoTenantError(RelayPointError, LookupError):
    """Code asked for the current tenant, but no tenant is bound to this context."""

    http_status = 400
    problem_title = "Tenant required"
    problem_slug = "tenant-required"
    expose_detail = True


class AuthenticationError(RelayPointError):
    """The caller could not be authenticated (HTTP 401)."""

    http_status = 401
    problem_title = "Unauthorized"
    problem_slug = "unauthorized"
    expose_detail = True


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

    http_status = 403
    problem_title = "Forbidden"
    problem_slug = "forbidden"
    expose_detail = True


class ConflictError(RelayPointError):
    """A write lost a race with another write to the same record (HTTP 409): re-read and retry."""

    http_status = 409
    problem_title = "Conflict"
    problem_slug = "conflict"
    expose_detail = True
