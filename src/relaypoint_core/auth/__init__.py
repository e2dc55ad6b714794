"""Authentication: password hashing, JWT access/refresh tokens with key rotation, token stores.

``AuthService`` is the entry point; ``AuthenticationMiddleware`` lives in
:mod:`relaypoint_core.auth.asgi` and the FastAPI dependencies in :mod:`relaypoint_core.fastapi`.
"""

from __future__ import annotations

from relaypoint_core.auth.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidCredentialsError,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    TokenReuseError,
    TokenRevokedError,
)
from relaypoint_core.auth.keys import ALLOWED_ALGORITHMS, KeyRing, SigningKey
from relaypoint_core.auth.passwords import hash_password, needs_rehash, verify_password
from relaypoint_core.auth.service import AuthService, TokenPair
from relaypoint_core.auth.store import RotationOutcome, TokenStore
from relaypoint_core.auth.stores import MemoryTokenStore, create_token_store
from relaypoint_core.auth.tokens import TokenCodec
from relaypoint_core.auth.users import InMemoryUserDirectory, UserDirectory, UserRecord
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.rbac.permissions import Permission

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AuthService",
    "AuthenticationError",
    "AuthorizationError",
    "InMemoryUserDirectory",
    "InvalidCredentialsError",
    "KeyRing",
    "MemoryTokenStore",
    "Permission",
    "PermissionChecker",
    "RotationOutcome",
    "SigningKey",
    "TokenCodec",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenNotYetValidError",
    "TokenPair",
    "TokenReuseError",
    "TokenRevokedError",
    "TokenStore",
    "UserDirectory",
    "UserRecord",
    "create_token_store",
    "hash_password",
    "needs_rehash",
    "verify_password",
]
