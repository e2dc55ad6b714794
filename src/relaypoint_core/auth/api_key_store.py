"""The storage Protocol behind API keys, and what is stored about one key.

A stored key never contains its secret: only ``secret_hash``, the SHA-256 of the secret (the secret
is 256 random bits, so a fast hash is as strong as a slow one and keeps verification cheap). Key
ids are random and unique across tenants, so a key is found by its id alone; every record still
names its tenant, and listing is per tenant. Mutable fields (revocation, expiry, last use) are
written one field at a time, so a last-use update can never undo a revocation. Every change that
can make a key stop working moves `ApiKeyStore.epoch`, which verification caches poll.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["ApiKeyRecord", "ApiKeyStore"]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One API key as stored. ``owner_kind`` is ``"user"`` or ``"service_account"``."""

    key_id: str
    tenant_id: str
    name: str
    permissions: tuple[str, ...]
    secret_hash: str
    owner_id: str
    owner_kind: str
    created_by: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    replaces: str | None = None

    @property
    def prefix(self) -> str:
        """What a person sees to recognise the key (``rpk_<id>``); never the secret."""
        return f"rpk_{self.key_id}"

    def is_active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_public(self) -> dict[str, Any]:
        """The key as an API lists it: everything except the hash."""
        return {
            "id": self.key_id,
            "prefix": self.prefix,
            "name": self.name,
            "permissions": list(self.permissions),
            "owner_id": self.owner_id,
            "owner_kind": self.owner_kind,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "replaces": self.replaces,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ApiKeyRecord:
        data = json.loads(text)
        data["permissions"] = tuple(data["permissions"])
        return cls(**data)


@runtime_checkable
class ApiKeyStore(Protocol):
    async def create(self, record: ApiKeyRecord) -> None:
        """Store a new key (its id is fresh and random)."""
        ...

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, in whatever tenant, or None."""
        ...

    async def list(self, tenant_id: str) -> list[ApiKeyRecord]:
        """The tenant's keys (revoked and expired ones included), oldest first."""
        ...

    async def revoke(self, key_id: str, *, at: float) -> bool:
        """Mark the key revoked (once; False if unknown) and move the epoch."""
        ...

    async def set_expiry(self, key_id: str, *, expires_at: float) -> None:
        """Shorten the key's life (rotation overlap) and move the epoch."""
        ...

    async def touch(self, key_id: str, *, at: float) -> None:
        """Record a use (only the last-used field changes)."""
        ...

    async def epoch(self) -> int:
        """A counter that moves on every revocation or expiry change."""
        ...

    async def aclose(self) -> None: ...
