"""Who is connecting: turning a credential string into a verified `Principal`, and back again.

The real-time server does not know what a credential is. It asks a `ConnectionAuthenticator`,
which verifies a credential (access token today, API key once `relaypoint_core.auth` verifies
those) and later answers whether the principal it returned still holds (revocation). The
`AccessTokenAuthenticator` does that for `AuthService` access tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from relaypoint_core.auth.service import AuthService
from relaypoint_core.errors import (
    AuthenticationError,
    BackendUnavailableError,
    TokenRevokedError,
)
from relaypoint_core.request_state import Principal

__all__ = [
    "AccessTokenAuthenticator",
    "ConnectionAuthenticator",
    "CredentialAuthenticator",
    "claimed_tenant",
    "credential_from",
    "expires_at",
]

logger = logging.getLogger("relaypoint.realtime")


@runtime_checkable
class ConnectionAuthenticator(Protocol):
    """Verifies credentials for the life of a connection."""

    async def authenticate(self, credential: str) -> Principal:
        """Verify `credential` and return the caller.

        Args:
            credential: What the client sent as `{"token": ...}` or `Authorization: Bearer ...`.

        Returns:
            The verified principal; its `claims["exp"]`, if any, bounds the connection.

        Raises:
            AuthenticationError: The credential is malformed, expired or revoked (its subclass
                `TokenExpiredError` / `TokenRevokedError` says which).
            BackendUnavailableError: The store that knows about revocations cannot be reached.
        """
        ...

    async def is_revoked(self, principal: Principal, credential: str) -> bool:
        """Whether `principal` (returned earlier by `authenticate`) was revoked since.

        Args:
            principal: A principal this authenticator returned.
            credential: The credential it was returned for (to verify again, where the
                principal alone cannot say, e.g. an API key).

        Returns:
            True once its token, its refresh family or its key is revoked.

        Raises:
            BackendUnavailableError: The revocation store cannot be reached.
        """
        ...


class AccessTokenAuthenticator:
    """`AuthService` access tokens, checked against the token store at connect and afterwards.

    Unlike the HTTP path, a connection always asks the store: a long-lived socket is exactly
    where a logout or a revoked refresh family must take effect before the token expires.

    Args:
        auth: The service that issued the tokens.
        fail_open: When the store cannot be reached at connect, admit a token whose signature
            and claims verify (the sweeps enforce revocation once the store answers again), as
            the HTTP path does; `False` refuses the connection (`unavailable`) instead.
    """

    def __init__(self, auth: AuthService, *, fail_open: bool = True) -> None:
        self.auth = auth
        self.fail_open = fail_open

    async def authenticate(self, credential: str) -> Principal:
        principal = self.auth.decode_access_token(credential)
        try:
            revoked = await self.is_revoked(principal, credential)
        except (BackendUnavailableError, OSError, TimeoutError):
            if not self.fail_open:
                raise
            logger.warning("realtime: token store unreachable at connect; admitted on signature")
            return principal
        if revoked:
            raise TokenRevokedError("this access token, or the session it belongs to, was revoked")
        return principal

    async def is_revoked(self, principal: Principal, credential: str = "") -> bool:
        family = principal.claims.get("fam")
        token_id = principal.token_id or str(principal.claims.get("jti", ""))
        if await self.auth.store.is_revoked(
            principal.tenant_id, token_id, family if isinstance(family, str) else None
        ):
            return True
        # "Sign out everywhere" moves the user's not-before time past this token's issue time.
        return bool(
            self.auth.enforce_not_before and await self.auth.sessions.issued_too_early(principal)
        )


class CredentialAuthenticator(AccessTokenAuthenticator):
    """Every credential `AuthService.verify_credential` accepts: access tokens and the kinds its
    registered verifiers claim, such as API keys.

    Access tokens are checked as `AccessTokenAuthenticator` checks them. Any other kind is
    verified again at each sweep, so a revoked or expired API key loses its connections (its
    service notices a revocation within its freshness interval).

    Args:
        auth: The service that verifies the credentials.
        fail_open: As for `AccessTokenAuthenticator`, for access tokens.
    """

    async def authenticate(self, credential: str) -> Principal:
        principal = await self.auth.verify_credential(credential)
        if principal.kind != "user":
            return principal
        return await super().authenticate(credential)

    async def is_revoked(self, principal: Principal, credential: str = "") -> bool:
        if principal.kind == "user":
            return await super().is_revoked(principal, credential)
        try:
            await self.auth.verify_credential(credential)
        except AuthenticationError:
            return True
        return False


def credential_from(auth: Any, environ: Mapping[str, Any]) -> str | None:
    """The credential of a connection attempt: the auth payload's `token`, else a Bearer header.

    Args:
        auth: The Socket.IO auth payload (any JSON value the client sent, or `None`).
        environ: The WSGI-style environ python-socketio passes to `connect`.

    Returns:
        The credential, or `None` when the client sent none.
    """
    if isinstance(auth, Mapping):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            value = token.strip()
            scheme, _, rest = value.partition(" ")
            return rest.strip() if scheme.lower() == "bearer" and rest.strip() else value
    header = environ.get("HTTP_AUTHORIZATION")
    if isinstance(header, str):
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def expires_at(principal: Principal) -> float | None:
    """The wall-clock second at which `principal`'s credential expires, if it says."""
    exp = principal.claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


def claimed_tenant(auth: Any, environ: Mapping[str, Any]) -> str | None:
    """The tenant a client says it wants: the auth payload's `tenant`, else an `X-Tenant-ID` header.

    A claim is never trusted: the server only compares it with the verified principal's tenant
    and refuses the connection when they differ.

    Args:
        auth: The Socket.IO auth payload.
        environ: The environ python-socketio passes to `connect`.

    Returns:
        The claimed tenant id, or `None` when the client claimed none.
    """
    if isinstance(auth, Mapping):
        tenant = auth.get("tenant")
        if isinstance(tenant, str) and tenant:
            return tenant
    header = environ.get("HTTP_X_TENANT_ID")
    if isinstance(header, str) and header.strip():
        return header.strip()
    return None
