"""The narrow storage Protocol behind refresh-token families and revocations.

A *family* starts at login and follows one chain of refresh-token rotations. The store keeps, per
family, the id of the one refresh token that may be used next and whether the family is revoked.
:meth:`TokenStore.rotate` must be atomic: of two concurrent refreshes presenting the same token,
exactly one rotates and the other is seen as reuse. Every entry has a TTL, so nothing grows forever.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

__all__ = ["RotationOutcome", "TokenStore"]


class RotationOutcome(enum.Enum):
    ROTATED = "rotated"
    """The presented token was the family's current one; the new token is now current."""
    REUSED = "reused"
    """The presented token had already been rotated: the family is now revoked."""
    REVOKED = "revoked"
    """The family was revoked earlier (logout, reuse, admin action)."""
    UNKNOWN = "unknown"
    """No such family (expired, or the store lost it): treat as revoked."""


@runtime_checkable
class TokenStore(Protocol):
    async def create_family(
        self, tenant_id: str | None, family_id: str, *, token_id: str, ttl: float
    ) -> None:
        """Start a family whose current refresh token is ``token_id``; forget it after ``ttl`` s."""
        ...

    async def rotate(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
    ) -> RotationOutcome:
        """Atomically replace the current token; a stale ``presented_token_id`` revokes the family."""
        ...

    async def revoke_family(self, tenant_id: str | None, family_id: str) -> bool:
        """Revoke a family (kept as revoked until it would have expired); False if unknown."""
        ...

    async def revoke_token(self, tenant_id: str | None, token_id: str, *, ttl: float) -> None:
        """Deny one (access) token id for ``ttl`` seconds — until the token expires anyway."""
        ...

    async def is_revoked(self, tenant_id: str | None, token_id: str, family_id: str | None) -> bool:
        """Whether the token id, or the family it belongs to, is revoked."""
        ...

    async def aclose(self) -> None: ...
