"""The narrow storage Protocol behind refresh-token families and revocations.

A *family* starts at login and follows one chain of refresh-token rotations. The store keeps, per
family, the id of the one refresh token that may be used next and whether the family is revoked.
`TokenStore.rotate` must be atomic: of two concurrent refreshes presenting the same token,
exactly one rotates and the other is seen as reuse. Every entry has a TTL, so nothing grows forever.

With a *grace window* (`TokenStore.rotate_with_grace`) the token that was just rotated may be
presented again for ``grace`` seconds: the store hands back the pair that the first rotation stored
(``replay``), in the same atomic step, so 16 concurrent refreshes of one token all get one pair.
Each family also remembers its user, creation and last-use time and client hints, so a user's
sessions can be listed and all of them revoked at once (`TokenStore.revoke_user`), which also
records a per-user *not-before* time that refuses access tokens issued earlier.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Rotation", "RotationOutcome", "SessionInfo", "TokenStore"]


class RotationOutcome(enum.Enum):
    ROTATED = "rotated"
    """The presented token was the family's current one; the new token is now current."""
    REUSED = "reused"
    """The presented token had already been rotated: the family is now revoked."""
    REVOKED = "revoked"
    """The family was revoked earlier (logout, reuse, admin action)."""
    UNKNOWN = "unknown"
    """No such family (expired, or the store lost it): treat as revoked."""
    GRACE = "grace"
    """The presented token was rotated less than the grace window ago: the pair that rotation
    produced is returned again (``Rotation.replay``) and the family lives on."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `TokenStore.rotate_with_grace` decided; ``replay`` is set for ``GRACE``."""

    outcome: RotationOutcome
    replay: bytes | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live refresh family of a user, as a session list shows it."""

    family_id: str
    user_id: str
    created_at: float
    last_used_at: float
    client: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class TokenStore(Protocol):
    async def create_family(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        token_id: str,
        ttl: float,
        user_id: str | None = None,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """Start a family whose current refresh token is ``token_id``; forget it after ``ttl`` s.
        With ``user_id`` the family is listed among that user's sessions."""
        ...

    async def rotate_with_grace(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
        grace: float,
        replay: bytes,
        user_id: str | None = None,
    ) -> Rotation:
        """`rotate`, except that the token rotated less than ``grace`` seconds ago answers
        ``GRACE`` with the ``replay`` stored by that rotation. Atomic across processes."""
        ...

    async def list_sessions(self, tenant_id: str | None, user_id: str) -> list[SessionInfo]:
        """The user's families that are neither revoked nor expired, oldest first."""
        ...

    async def revoke_user(
        self, tenant_id: str | None, user_id: str, *, not_before: float, ttl: float
    ) -> int:
        """Revoke every family of the user and refuse their tokens issued before ``not_before``
        (remembered for ``ttl`` seconds); returns how many families were revoked."""
        ...

    async def not_before(self, tenant_id: str | None, user_id: str) -> float | None:
        """The user's not-before time set by `revoke_user`, if still remembered."""
        ...

    async def epoch(self) -> int:
        """A counter that changes whenever a not-before time is set (cheap to poll)."""
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
        """Atomically replace the current token; a stale ``presented_token_id`` revokes the family.

        Stores that subclass `TokenStore` inherit this: `rotate_with_grace` with no grace window.
        """
        rotation = await self.rotate_with_grace(
            tenant_id,
            family_id,
            presented_token_id=presented_token_id,
            new_token_id=new_token_id,
            ttl=ttl,
            grace=0.0,
            replay=b"",
        )
        return rotation.outcome

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
