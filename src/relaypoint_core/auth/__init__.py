"""Authentication: password hashing, JWT access/refresh tokens, token stores."""

from __future__ import annotations

from relaypoint_core.auth.passwords import hash_password, needs_rehash, verify_password
from relaypoint_core.auth.users import InMemoryUserDirectory, UserDirectory, UserRecord

__all__ = [
    "InMemoryUserDirectory",
    "UserDirectory",
    "UserRecord",
    "hash_password",
    "needs_rehash",
    "verify_password",
]
