"""Password hashing with Argon2id (argon2-cffi), verified in constant time.

Hashes carry their own parameters, so raising the cost later only needs `needs_rehash` at
login to upgrade stored hashes gradually.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordHasher", "hash_password", "needs_rehash", "verify_password"]

_hasher = PasswordHasher()

# A hash of a random string, verified against when the user does not exist, so that a login for
# an unknown email costs the same time as one for a known email (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("relaypoint-timing-equaliser")


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (parameters and salt encoded in the result)."""
    if not password:
        raise ValueError("password must not be empty")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; ``None`` hashes still cost one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)
