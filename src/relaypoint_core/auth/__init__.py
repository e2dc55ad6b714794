"""Authentication: password hashing, JWT access/refresh tokens with key rotation, token stores.

``AuthService`` is the entry point; ``AuthenticationMiddleware`` lives in
`relaypoint_core.auth.asgi` and the FastAPI dependencies in `relaypoint_core.fastapi`.
"""

from __future__ import annotations

from relaypoint_core.auth.api_key_store import ApiKeyRecord, ApiKeyStore
from relaypoint_core.auth.api_keys import (
    API_KEY_PREFIX,
    ApiKeyError,
    ApiKeyNotFoundError,
    ApiKeyService,
    ApiKeyValidationError,
    CreatedApiKey,
)
from relaypoint_core.auth.credentials import CredentialVerifier
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
from relaypoint_core.auth.jwks import jwks_document
from relaypoint_core.auth.keys import ALLOWED_ALGORITHMS, KeyRing, SigningKey
from relaypoint_core.auth.passwords import hash_password, needs_rehash, verify_password
from relaypoint_core.auth.service import AuthService, TokenPair
from relaypoint_core.auth.store import Rotation, RotationOutcome, SessionInfo, TokenStore
from relaypoint_core.auth.stores import MemoryTokenStore, create_token_store
from relaypoint_core.auth.stores.api_keys import create_api_key_store
from relaypoint_core.auth.tokens import TokenCodec
from relaypoint_core.auth.users import InMemoryUserDirectory, UserDirectory, UserRecord
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.rbac.permissions import Permission

__all__ = [
    "ALLOWED_ALGORITHMS",
    "API_KEY_PREFIX",
    "ApiKeyError",
    "ApiKeyNotFoundError",
    "ApiKeyRecord",
    "ApiKeyService",
    "ApiKeyStore",
    "ApiKeyValidationError",
    "AuthService",
    "AuthenticationError",
    "AuthorizationError",
    "CreatedApiKey",
    "CredentialVerifier",
    "InMemoryUserDirectory",
    "InvalidCredentialsError",
    "KeyRing",
    "MemoryTokenStore",
    "Permission",
    "PermissionChecker",
    "Rotation",
    "RotationOutcome",
    "SessionInfo",
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
    "create_api_key_store",
    "create_token_store",
    "hash_password",
    "jwks_document",
    "needs_rehash",
    "verify_password",
]
