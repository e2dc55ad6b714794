"""Authentication: password hashing, JWT access/refresh tokens, token stores."""

from __future__ import annotations

from relaypoint_core.auth.passwords import hash_password, needs_rehash, verify_password

__all__ = ["hash_password", "needs_rehash", "verify_password"]
