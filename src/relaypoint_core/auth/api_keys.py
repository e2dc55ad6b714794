"""API keys: per-tenant credentials for users and service accounts, shown once, stored hashed.

A key reads ``rpk_<id>_<secret>``: the ``rpk_`` prefix tells it apart from a JWT (which starts
with ``eyJ`` and has two dots), ``<id>`` (16 base32 characters) finds the record and ``<secret>``
(256 random bits) is compared, as a SHA-256 digest, in constant time. The plain key exists only
in the answer to `ApiKeyService.create` (and `ApiKeyService.rotate`).

Verification is cached in-process. Revocations and expiry changes move the store's epoch, which
each process polls at most once per ``freshness_interval`` (one second): a revoked key stops
working on every process within that interval, and the steady state costs no round trip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from relaypoint_core.audit import AuditAction, AuditLog, AuditOutcome, NullAuditLog, make_event
from relaypoint_core.auth.api_key_store import ApiKeyRecord, ApiKeyStore
from relaypoint_core.auth.freshness import DEFAULT_FRESHNESS_INTERVAL, EpochGate
from relaypoint_core.auth.stores.api_keys import create_api_key_store
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import (
    AuthorizationError,
    BackendUnavailableError,
    RelayPointError,
    TokenExpiredError,
    TokenInvalidError,
    TokenRevokedError,
)
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.rbac.permissions import is_valid_permission
from relaypoint_core.request_state import Principal
from relaypoint_core.tenant_ids import TenantSlug

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyError",
    "ApiKeyNotFoundError",
    "ApiKeyService",
    "ApiKeyValidationError",
    "CreatedApiKey",
    "looks_like_api_key",
]

logger = logging.getLogger("relaypoint.auth")

API_KEY_PREFIX = "rpk_"
_SHAPE = re.compile(r"rpk_([a-z2-7]{16})_([A-Za-z0-9_-]{43})")
_OWNER_KINDS = frozenset({"user", "service_account"})
_MAX_NAME = 100
_MAX_LIFETIME_DAYS = 3650
_CACHE_LIMIT = 10_000


class ApiKeyError(AuthorizationError):
    """An API-key request asks for something the caller may not have (e.g. a wider scope)."""


class ApiKeyNotFoundError(RelayPointError, LookupError):
    """No such key in this tenant (keys of other tenants are not even acknowledged): HTTP 404."""

    http_status = 404
    problem_title = "API key not found"
    problem_slug = "api-key-not-found"
    expose_detail = True


class ApiKeyValidationError(RelayPointError, ValueError):
    """A key request is malformed (name, permission, lifetime or owner kind): HTTP 422."""

    http_status = 422
    problem_title = "Invalid API key request"
    problem_slug = "invalid-api-key-request"
    expose_detail = True


def looks_like_api_key(credential: str) -> bool:
    """Whether ``credential`` has the API-key prefix (no I/O, no validation)."""
    return credential.startswith(API_KEY_PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _new_id() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key and the one chance to read its secret (``key``)."""

    record: ApiKeyRecord
    key: str

    def to_response(self) -> dict[str, Any]:
        """``{id, key, prefix, name, permissions, expires_at}``: the creation answer."""
        r = self.record
        return {
            "id": r.key_id,
            "key": self.key,
            "prefix": r.prefix,
            "name": r.name,
            "permissions": list(r.permissions),
            "expires_at": r.expires_at,
        }


class ApiKeyService:
    """Issues, verifies, rotates and revokes API keys; a `CredentialVerifier` for `AuthService`."""

    def __init__(
        self,
        store: ApiKeyStore | None = None,
        *,
        checker: PermissionChecker | None = None,
        audit: AuditLog | None = None,
        clock: Clock = system_clock,
        cache_ttl: float = 300.0,
        freshness_interval: float = DEFAULT_FRESHNESS_INTERVAL,
        last_used_resolution: float = 60.0,
    ) -> None:
        self.store: ApiKeyStore = store if store is not None else create_api_key_store()
        self.checker = checker or PermissionChecker()
        self.audit: AuditLog = audit if audit is not None else NullAuditLog()
        self.clock = clock
        self.cache_ttl = cache_ttl
        self.last_used_resolution = last_used_resolution
        self.gate = EpochGate(self.store.epoch, clock=clock, interval=freshness_interval)
        self._cache: dict[str, tuple[ApiKeyRecord, float]] = {}
        self._touched: dict[str, float] = {}

    # --- verification -----------------------------------------------------------------------

    def claims(self, credential: str) -> bool:
        return looks_like_api_key(credential)

    async def _record(self, key_id: str) -> ApiKeyRecord | None:
        if await self.gate.changed():
            self._cache.clear()
        now = self.clock.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[1] < self.cache_ttl:
            return cached[0]
        record = await self.store.get(key_id)
        if record is not None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key_id] = (record, now)
        return record

    async def verify(self, credential: str) -> Principal:
        """The principal of a valid key.

        Raises:
            TokenInvalidError: malformed or unknown key, or a wrong secret.
            TokenRevokedError: the key was revoked.
            TokenExpiredError: the key's expiry (or rotation overlap) has passed.
            BackendUnavailableError: the store is needed (cache miss) and unreachable.
        """
        match = _SHAPE.fullmatch(credential)
        if match is None:
            raise TokenInvalidError("API key is malformed")
        key_id, secret = match.groups()
        record = await self._record(key_id)
        if record is None or not hmac.compare_digest(_hash(secret), record.secret_hash):
            raise TokenInvalidError("API key is not valid")
        if record.revoked_at is not None:
            raise TokenRevokedError("API key was revoked")
        now = self.clock.time()
        if record.expires_at is not None and now >= record.expires_at:
            raise TokenExpiredError("API key expired")
        await self._touch(key_id, now)
        return Principal(
            user_id=f"apikey:{key_id}",
            tenant_id=TenantSlug(record.tenant_id),
            roles=(),
            token_id=key_id,
            claims={
                "typ": "api_key",
                "sub": f"apikey:{key_id}",
                "tid": record.tenant_id,
                "owner": record.owner_id,
                "owner_kind": record.owner_kind,
                "scope": " ".join(record.permissions),
            },
            kind="api_key",
            key_id=key_id,
            scopes=frozenset(record.permissions),
        )

    async def _touch(self, key_id: str, now: float) -> None:
        # Last use has a resolution (a minute by default), so a busy key writes once a minute.
        if now - self._touched.get(key_id, float("-inf")) < self.last_used_resolution:
            return
        self._touched[key_id] = now
        if len(self._touched) >= _CACHE_LIMIT:
            self._touched = {key_id: now}
        try:
            await self.store.touch(key_id, at=now)
        except BackendUnavailableError:
            logger.warning("could not record the last use of API key %s", key_id)

    # --- management ---------------------------------------------------------------------------

    async def _audit(
        self, action: str, actor: Principal, record: ApiKeyRecord, **extra: Any
    ) -> None:
        event = make_event(
            action,
            AuditOutcome.SUCCESS,
            actor=actor.user_id,
            tenant_id=record.tenant_id,
            target=record.key_id,
            clock=self.clock,
            name=record.name,
            permissions=list(record.permissions),
            **extra,
        )
        try:
            await self.audit.record(event)
        except Exception:  # an audit sink failing must not turn an API call into a 500
            logger.exception("audit sink failed to record %s", action)

    def _check_scope(
        self, creator: Principal, tenant_id: str, permissions: tuple[str, ...]
    ) -> None:
        if not permissions:
            raise ApiKeyValidationError("an API key needs at least one permission")
        for permission in permissions:
            if not is_valid_permission(permission):
                raise ApiKeyValidationError(f"{permission!r} is not a 'resource:action' permission")
            if not self.checker.check_principal(creator, permission, tenant_id=tenant_id):
                raise ApiKeyError(
                    f"cannot grant {permission!r}: an API key's scope must be a subset of its "
                    "creator's permissions in this tenant"
                )

    async def create(
        self,
        creator: Principal,
        *,
        tenant_id: str,
        name: str,
        permissions: list[str] | tuple[str, ...],
        expires_in_days: float | None = None,
        owner_id: str | None = None,
        owner_kind: str = "user",
        replaces: str | None = None,
    ) -> CreatedApiKey:
        """Issue a key in ``tenant_id`` scoped to ``permissions`` (each held by ``creator``).

        Args:
            creator: who asks; the scope may not exceed their permissions in ``tenant_id``.
            tenant_id: the tenant the key works in (and only there).
            name: a label for people (1 to 100 characters).
            permissions: the exact permissions the key may use.
            expires_in_days: optional lifetime; ``None`` never expires.
            owner_id: the user or service account the key acts for (default: the creator).
            owner_kind: ``"user"`` or ``"service_account"``.
            replaces: the id of the key this one rotates (set by `rotate`).

        Returns:
            The record and the plain key, which is never available again.

        Raises:
            ApiKeyError: a permission exceeds the creator's.
            ApiKeyValidationError: an invalid name, permission, lifetime or owner kind.
        """
        scope = tuple(sorted(set(permissions)))
        self._check_scope(creator, tenant_id, scope)
        name = name.strip()
        if not 0 < len(name) <= _MAX_NAME:
            raise ApiKeyValidationError(f"an API key name needs 1 to {_MAX_NAME} characters")
        if owner_kind not in _OWNER_KINDS:
            raise ApiKeyValidationError(f"owner_kind must be one of {sorted(_OWNER_KINDS)}")
        if expires_in_days is not None and not 0 < expires_in_days <= _MAX_LIFETIME_DAYS:
            raise ApiKeyValidationError(
                f"expires_in_days must be between 0 and {_MAX_LIFETIME_DAYS}"
            )
        now = self.clock.time()
        key_id = _new_id()
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id=key_id,
            tenant_id=tenant_id,
            name=name,
            permissions=scope,
            secret_hash=_hash(secret),
            owner_id=owner_id or creator.user_id,
            owner_kind=owner_kind,
            created_by=creator.user_id,
            created_at=now,
            expires_at=None if expires_in_days is None else now + expires_in_days * 86400,
            replaces=replaces,
        )
        await self.store.create(record)
        await self._audit(AuditAction.API_KEY_CREATED, creator, record, owner=record.owner_id)
        return CreatedApiKey(record, f"{API_KEY_PREFIX}{key_id}_{secret}")

    async def list(self, tenant_id: str) -> list[ApiKeyRecord]:
        """The tenant's keys, without secrets (``to_public()`` for the API shape)."""
        return await self.store.list(tenant_id)

    async def get(self, tenant_id: str, key_id: str) -> ApiKeyRecord:
        """One key of the tenant.

        Raises:
            ApiKeyNotFoundError: no such key in this tenant.
        """
        record = await self.store.get(key_id) if re.fullmatch(r"[a-z2-7]{16}", key_id) else None
        if record is None or record.tenant_id != tenant_id:
            raise ApiKeyNotFoundError(f"no API key {key_id!r} in this tenant")
        return record

    async def revoke(self, actor: Principal, tenant_id: str, key_id: str) -> None:
        """Revoke a key of the tenant: refused everywhere within ``freshness_interval``.

        Raises:
            ApiKeyNotFoundError: no such key in this tenant.
        """
        record = await self.get(tenant_id, key_id)
        if await self.store.revoke(key_id, at=self.clock.time()):
            await self._audit(AuditAction.API_KEY_REVOKED, actor, record)
        self._cache.pop(key_id, None)
        self.gate.expire()

    async def rotate(
        self, actor: Principal, tenant_id: str, key_id: str, *, overlap_seconds: float = 86400.0
    ) -> CreatedApiKey:
        """A new key with the same name, scope and owner; the old one keeps working for
        ``overlap_seconds`` (so deployments can switch), then expires.

        Raises:
            ApiKeyNotFoundError: no such key in this tenant.
            TokenRevokedError: the key is revoked or expired; create a new one instead.
        """
        old = await self.get(tenant_id, key_id)
        now = self.clock.time()
        if not old.is_active(now):
            raise TokenRevokedError("a revoked or expired API key cannot be rotated")
        remaining = None if old.expires_at is None else (old.expires_at - now) / 86400
        created = await self.create(
            actor,
            tenant_id=tenant_id,
            name=old.name,
            permissions=old.permissions,
            expires_in_days=remaining,
            owner_id=old.owner_id,
            owner_kind=old.owner_kind,
            replaces=old.key_id,
        )
        overlap_end = now + max(0.0, overlap_seconds)
        if old.expires_at is None or overlap_end < old.expires_at:
            await self.store.set_expiry(key_id, expires_at=overlap_end)
        self._cache.pop(key_id, None)
        self.gate.expire()
        await self._audit(
            AuditAction.API_KEY_ROTATED, actor, old, replaced_by=created.record.key_id
        )
        return created

    async def aclose(self) -> None:
        await self.store.aclose()
