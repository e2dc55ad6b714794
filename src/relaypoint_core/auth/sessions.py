"""Sessions: a user's refresh families listed, one revoked, or all of them ("log out everywhere").

Logging out everywhere revokes every family in one store step and records a per-user not-before
time; `AuthService.verify_access_token` refuses access tokens issued before it. The not-before
lookup is served from `NotBeforeCache`, refreshed through an epoch counter polled at most once a
second, so the steady state costs no store round trip per request (see
`relaypoint_core.auth.freshness`). Token ``iat`` has one-second resolution: tokens issued in the
same second as the logout stay valid, though their families are revoked and cannot refresh.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from relaypoint_core.audit import AuditAction, AuditOutcome
from relaypoint_core.auth.freshness import EpochGate, NotBeforeCache
from relaypoint_core.auth.store import SessionInfo, TokenStore
from relaypoint_core.clock import Clock
from relaypoint_core.request_state import Principal

__all__ = ["SessionInfo", "SessionManager"]

Recorder = Callable[..., Awaitable[None]]


class SessionManager:
    """Lists and revokes the sessions (refresh families) of users, with audit records."""

    def __init__(
        self,
        store: TokenStore,
        *,
        clock: Clock,
        record: Recorder,
        not_before_ttl: float,
        freshness_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self._record = record
        self.not_before_ttl = not_before_ttl
        self.gate = EpochGate(store.epoch, clock=clock, interval=freshness_interval)
        self.not_before_cache = NotBeforeCache(store.not_before, self.gate)

    async def list(self, tenant_id: str | None, user_id: str) -> list[SessionInfo]:
        """The user's live sessions, oldest first."""
        return await self.store.list_sessions(tenant_id, user_id)

    async def revoke(self, principal: Principal, family_id: str) -> bool:
        """Revoke one of the caller's own sessions; False if it is not one of theirs (or gone)."""
        sessions = await self.store.list_sessions(principal.tenant_id, principal.user_id)
        if family_id not in {s.family_id for s in sessions}:
            return False
        revoked = await self.store.revoke_family(principal.tenant_id, family_id)
        await self._record(
            AuditAction.SESSION_REVOKED,
            AuditOutcome.SUCCESS,
            actor=principal.user_id,
            tenant_id=principal.tenant_id,
            family=family_id,
        )
        return revoked

    async def revoke_all(
        self, tenant_id: str | None, user_id: str, *, actor: str | None = None
    ) -> int:
        """Revoke every session of the user and refuse their earlier access tokens.

        Returns:
            How many live sessions were revoked.
        """
        not_before = float(math.floor(self.clock.time()))
        count = await self.store.revoke_user(
            tenant_id, user_id, not_before=not_before, ttl=self.not_before_ttl
        )
        self.not_before_cache.forget(tenant_id, user_id)
        await self._record(
            AuditAction.LOGOUT_ALL,
            AuditOutcome.SUCCESS,
            actor=actor or user_id,
            tenant_id=tenant_id,
            target=user_id,
            sessions=count,
        )
        return count

    async def issued_too_early(self, principal: Principal) -> bool:
        """Whether the principal's token predates the user's not-before time."""
        not_before = await self.not_before_cache.get(principal.tenant_id, principal.user_id)
        if not_before is None:
            return False
        issued: Any = principal.claims.get("iat")
        return not isinstance(issued, int | float) or issued < not_before
