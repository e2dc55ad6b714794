"""How the auth service finds users: a narrow Protocol other packages implement.

The tenancy package (or an application's own user table) implements `UserDirectory`
structurally; `InMemoryUserDirectory` serves tests, demos and single-process set-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryUserDirectory", "UserDirectory", "UserRecord"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """What login needs to know about a user; ``roles`` are granted in ``tenant_id``."""

    user_id: str
    email: str
    password_hash: str | None
    tenant_id: str | None
    roles: tuple[str, ...]
    is_active: bool = True
    plan_tier: str | None = None  # the tenant's plan, for the login metric's label


@runtime_checkable
class UserDirectory(Protocol):
    """Looks users up by email (within a tenant, or platform-wide when ``tenant_id`` is None)."""

    async def get_by_email(self, email: str, *, tenant_id: str | None) -> UserRecord | None: ...

    async def get_by_id(self, user_id: str) -> UserRecord | None: ...


def _normalise_email(email: str) -> str:
    return email.strip().casefold()


class InMemoryUserDirectory:
    """A `UserDirectory` held in a dict; emails are matched case-insensitively per tenant."""

    def __init__(self, users: Iterable[UserRecord] = ()) -> None:
        self._by_id: dict[str, UserRecord] = {}
        self._by_email: dict[tuple[str | None, str], UserRecord] = {}
        for user in users:
            self.add(user)

    def add(self, user: UserRecord) -> None:
        """Add or replace a user; the email must be unique within its tenant."""
        key = (user.tenant_id, _normalise_email(user.email))
        existing = self._by_email.get(key)
        if existing is not None and existing.user_id != user.user_id:
            raise ValueError(
                f"email {user.email!r} is already used by user {existing.user_id!r} "
                f"in tenant {user.tenant_id!r}"
            )
        previous = self._by_id.get(user.user_id)
        if previous is not None:
            self._by_email.pop((previous.tenant_id, _normalise_email(previous.email)), None)
        self._by_id[user.user_id] = user
        self._by_email[key] = user

    def remove(self, user_id: str) -> None:
        user = self._by_id.pop(user_id, None)
        if user is not None:
            self._by_email.pop((user.tenant_id, _normalise_email(user.email)), None)

    async def get_by_email(self, email: str, *, tenant_id: str | None) -> UserRecord | None:
        return self._by_email.get((tenant_id, _normalise_email(email)))

    async def get_by_id(self, user_id: str) -> UserRecord | None:
        return self._by_id.get(user_id)
