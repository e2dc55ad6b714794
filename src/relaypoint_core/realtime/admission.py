"""Admission: who may open a connection, who may take one over with `auth.refresh`, which rooms.

Every refusal is a `ConnectionRefused` with a fixed code and a sentence for the client's
developer; nothing here raises anything else to the Socket.IO engine, so a failing store or
verifier refuses the connection (`unavailable`) instead of breaking the server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from relaypoint_core.errors import (
    AuthenticationError,
    BackendUnavailableError,
    RelayPointError,
    TokenExpiredError,
    TokenRevokedError,
)
from relaypoint_core.realtime.credentials import (
    ConnectionAuthenticator,
    claimed_tenant,
    credential_from,
)
from relaypoint_core.realtime.errors import ConnectionRefused
from relaypoint_core.realtime.rooms import rooms_of
from relaypoint_core.request_state import Principal, ResolvedTenant

__all__ = ["Admission", "TenantVerifier"]

logger = logging.getLogger("relaypoint.realtime")

TenantVerifier = Callable[[Principal], Awaitable[ResolvedTenant]]
"""Checks that a verified principal's tenant may connect (exists, is active); raises a
`RelayPointError` to refuse."""

_HOW = "send {'token': '<access token>'} as the Socket.IO auth payload, or an 'Authorization: Bearer' header"


class Admission:
    """Turns a connection attempt into a verified principal, or a `ConnectionRefused`.

    Args:
        authenticator: Verifies credentials.
        tenant_verifier: Optional check of the principal's tenant.
    """

    def __init__(
        self,
        authenticator: ConnectionAuthenticator,
        tenant_verifier: TenantVerifier | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.tenant_verifier = tenant_verifier

    async def _verify(self, credential: str) -> Principal:
        try:
            return await self.authenticator.authenticate(credential)
        except TokenExpiredError:
            raise ConnectionRefused("expired_token", "the token has expired; refresh it") from None
        except TokenRevokedError:
            raise ConnectionRefused(
                "revoked_token", "the token or its session was revoked; sign in again"
            ) from None
        except AuthenticationError as exc:
            raise ConnectionRefused(
                "invalid_token", f"the token was not accepted ({exc})"
            ) from None
        except (BackendUnavailableError, OSError, TimeoutError):
            raise ConnectionRefused(
                "unavailable", "credentials cannot be checked right now; retry shortly"
            ) from None
        except Exception:
            logger.exception("realtime authenticator failed")
            raise ConnectionRefused(
                "unavailable", "credentials cannot be checked right now; retry shortly"
            ) from None

    async def admit(
        self, auth: Any, environ: Mapping[str, Any]
    ) -> tuple[Principal, ResolvedTenant | None, str]:
        """Verify a connection attempt.

        Args:
            auth: The Socket.IO auth payload.
            environ: The environ of the handshake request.

        Returns:
            The principal, its verified tenant (with a tenant verifier) and the credential.

        Raises:
            ConnectionRefused: The attempt is refused; `code` says why.
        """
        credential = credential_from(auth, environ)
        if credential is None:
            raise ConnectionRefused("missing_token", f"no credential was sent: {_HOW}")
        principal = await self._verify(credential)
        if principal.tenant_id is None:
            raise ConnectionRefused(
                "no_tenant", "this credential belongs to no tenant; use a tenant user's token"
            )
        claimed = claimed_tenant(auth, environ)
        if claimed is not None and claimed != principal.tenant_id:
            raise ConnectionRefused(
                "tenant_mismatch",
                f"the token belongs to another tenant than {claimed!r}; "
                "connect with a token of that tenant",
            )
        tenant: ResolvedTenant | None = None
        if self.tenant_verifier is not None:
            try:
                tenant = await self.tenant_verifier(principal)
            except (BackendUnavailableError, OSError, TimeoutError):
                raise ConnectionRefused(
                    "unavailable", "the tenant cannot be checked right now; retry shortly"
                ) from None
            except RelayPointError as exc:
                raise ConnectionRefused("tenant_refused", str(exc)) from None
            except Exception:
                logger.exception("realtime tenant verifier failed")
                raise ConnectionRefused(
                    "unavailable", "the tenant cannot be checked right now; retry shortly"
                ) from None
        return principal, tenant, credential

    async def reauthenticate(self, current: Principal, data: Any) -> tuple[Principal, str]:
        """Verify the credential of an `auth.refresh` for a connection of `current`.

        Returns:
            The new principal and its credential.

        Raises:
            ConnectionRefused: Missing, invalid, or of another user or tenant.
        """
        credential = credential_from(data, {}) if isinstance(data, Mapping) else None
        if credential is None and isinstance(data, str) and data.strip():
            credential = data.strip()
        if credential is None:
            raise ConnectionRefused("missing_token", "send 'auth.refresh' with {'token': ...}")
        principal = await self._verify(credential)
        if (principal.user_id, principal.tenant_id) != (current.user_id, current.tenant_id):
            raise ConnectionRefused(
                "tenant_mismatch",
                "a credential of another user or tenant cannot take over this connection",
            )
        return principal, credential

    @staticmethod
    def rooms(principal: Principal) -> frozenset[str]:
        """The rooms a connection of `principal` is put in."""
        return rooms_of(principal)
