"""Helpers for your own tests: an AuthService with a throwaway key and tokens for any principal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from relaypoint_core.audit import InMemoryAuditLog
from relaypoint_core.auth.keys import KeyRing, SigningKey
from relaypoint_core.auth.service import AuthService
from relaypoint_core.auth.stores.memory import MemoryTokenStore
from relaypoint_core.auth.users import InMemoryUserDirectory, UserRecord
from relaypoint_core.clock import Clock, system_clock

__all__ = ["issue_access_token", "make_test_auth_service"]


def make_test_auth_service(
    users: Iterable[UserRecord] = (), *, clock: Clock = system_clock, **options: Any
) -> AuthService:
    """An AuthService with a fresh Ed25519 key, an in-memory store and an in-memory audit log
    (``service.audit.events`` lets a test assert what was recorded)."""
    options.setdefault("keys", KeyRing([SigningKey.generate_ed25519("test-key")]))
    options.setdefault("audit", InMemoryAuditLog())
    return AuthService(
        users=InMemoryUserDirectory(users),
        store=MemoryTokenStore(clock=clock),
        clock=clock,
        **options,
    )


async def issue_access_token(
    service: AuthService,
    user_id: str,
    *,
    tenant_id: str | None,
    roles: Iterable[str] = (),
) -> str:
    """A valid access token for a principal, without a password or a user directory entry."""
    record = UserRecord(user_id, f"{user_id}@example.test", None, tenant_id, tuple(roles))
    return (await service.issue_tokens(record)).access_token
