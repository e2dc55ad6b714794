"""API-key store backends, chosen by URL: ``memory://`` (one process) or Redis.

Redis layout (under ``KeyScheme("apikey")``): ``rp:apikey:{t=_}:key:<id>`` is a hash with the
immutable record as JSON in ``rec`` and the mutable fields ``rev``, ``exp``, ``used``;
``rp:apikey:{t==acme}:idx`` is the tenant's set of key ids; ``rp:apikey:{t=_}:epoch`` counts
revocations and expiry changes. Key records live in the platform slot because a presented key
names only its id; its tenant is read from the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from typing import Any, TypeVar

from relaypoint_core.auth.api_key_store import ApiKeyRecord, ApiKeyStore
from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import BackendUnavailableError
from relaypoint_core.keys import DEFAULT_KEY_PREFIX, KeyScheme
from relaypoint_core.optional import require_module
from relaypoint_core.redis_client import create_redis_client

__all__ = ["MemoryApiKeyStore", "RedisApiKeyStore", "create_api_key_store"]

T = TypeVar("T")


class MemoryApiKeyStore:
    """Keys in a dict (per process; with several instances use Redis)."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKeyRecord] = {}
        self._epoch = 0

    async def create(self, record: ApiKeyRecord) -> None:
        self._keys[record.key_id] = record

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._keys.get(key_id)

    async def list(self, tenant_id: str) -> list[ApiKeyRecord]:
        found = [r for r in self._keys.values() if r.tenant_id == tenant_id]
        return sorted(found, key=lambda r: (r.created_at, r.key_id))

    async def revoke(self, key_id: str, *, at: float) -> bool:
        record = self._keys.get(key_id)
        if record is None or record.revoked_at is not None:
            return False
        self._keys[key_id] = dataclasses.replace(record, revoked_at=at)
        self._epoch += 1
        return True

    async def set_expiry(self, key_id: str, *, expires_at: float) -> None:
        record = self._keys.get(key_id)
        if record is not None:
            self._keys[key_id] = dataclasses.replace(record, expires_at=expires_at)
            self._epoch += 1

    async def touch(self, key_id: str, *, at: float) -> None:
        record = self._keys.get(key_id)
        if record is not None:
            self._keys[key_id] = dataclasses.replace(record, last_used_at=at)

    async def epoch(self) -> int:
        return self._epoch

    async def aclose(self) -> None:
        return None


def _float(value: Any) -> float | None:
    if value is None or value in (b"", ""):
        return None
    return float(value)


class RedisApiKeyStore:
    """API keys on Redis (or Redis Cluster), shared by every instance."""

    def __init__(
        self, client: Any, *, key_prefix: str = DEFAULT_KEY_PREFIX, clock: Clock = system_clock
    ) -> None:
        self._client = client
        self._keys = KeyScheme("apikey", key_prefix)
        self.breaker = CircuitBreaker("api key store", clock=clock)
        self._errors: tuple[type[BaseException], ...] = (
            require_module(
                "redis.exceptions", extra="redis", feature="API keys on Redis"
            ).RedisError,
            OSError,
        )

    @classmethod
    def from_url(
        cls, url: str, *, key_prefix: str = DEFAULT_KEY_PREFIX, clock: Clock = system_clock
    ) -> RedisApiKeyStore:
        return cls(
            create_redis_client(url, component="api keys"), key_prefix=key_prefix, clock=clock
        )

    def _key(self, key_id: str) -> str:
        return self._keys.key(None, "key", key_id)

    def _index(self, tenant_id: str) -> str:
        return self._keys.key(tenant_id, "idx")

    def _epoch_key(self) -> str:
        return self._keys.key(None, "epoch")

    async def _call(self, operation: Awaitable[T]) -> T:
        if not self.breaker.allow():
            close = getattr(operation, "close", None)
            if close is not None:
                close()
            raise BackendUnavailableError("API key store on Redis is unavailable (circuit open)")
        try:
            result = await operation
        except self._errors as exc:
            self.breaker.record_failure()
            raise BackendUnavailableError(
                f"API key store on Redis is unavailable ({type(exc).__name__}: {exc})"
            ) from exc
        self.breaker.record_success()
        return result

    async def create(self, record: ApiKeyRecord) -> None:
        expires = "" if record.expires_at is None else repr(record.expires_at)
        # No "rev" field until revoked: HSETNX then makes revocation happen exactly once.
        fields = {"rec": record.to_json(), "exp": expires, "used": ""}
        await self._call(self._client.hset(self._key(record.key_id), mapping=fields))
        await self._call(self._client.sadd(self._index(record.tenant_id), record.key_id))

    def _record(self, fields: dict[Any, Any]) -> ApiKeyRecord | None:
        if not fields or (b"rec" not in fields and "rec" not in fields):
            return None

        def get(name: str) -> Any:
            return fields.get(name.encode(), fields.get(name))

        record = ApiKeyRecord.from_json(get("rec"))
        return dataclasses.replace(
            record,
            revoked_at=_float(get("rev")),
            expires_at=_float(get("exp")),
            last_used_at=_float(get("used")),
        )

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._record(await self._call(self._client.hgetall(self._key(key_id))))

    async def list(self, tenant_id: str) -> list[ApiKeyRecord]:
        ids = await self._call(self._client.smembers(self._index(tenant_id)))
        records = []
        for raw in sorted(ids):
            record = await self.get(raw.decode() if isinstance(raw, bytes) else str(raw))
            if record is not None and record.tenant_id == tenant_id:
                records.append(record)
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    async def revoke(self, key_id: str, *, at: float) -> bool:
        key = self._key(key_id)
        if not await self._call(self._client.exists(key)):
            return False
        if not await self._call(self._client.hsetnx(key, "rev", repr(at))):
            return False  # revoked already (perhaps by a concurrent request)
        await self._call(self._client.incr(self._epoch_key()))
        return True

    async def set_expiry(self, key_id: str, *, expires_at: float) -> None:
        await self._call(self._client.hset(self._key(key_id), "exp", repr(expires_at)))
        await self._call(self._client.incr(self._epoch_key()))

    async def touch(self, key_id: str, *, at: float) -> None:
        key = self._key(key_id)
        if await self._call(self._client.exists(key)):
            await self._call(self._client.hset(key, "used", repr(at)))

    async def epoch(self) -> int:
        value = await self._call(self._client.get(self._epoch_key()))
        return 0 if value is None else int(value)

    async def aclose(self) -> None:
        await self._client.aclose()


def create_api_key_store(
    url: str | None = None, *, key_prefix: str = DEFAULT_KEY_PREFIX, clock: Clock = system_clock
) -> ApiKeyStore:
    """The API-key store for ``url`` (``None``/``memory://``: in-process; Redis needs the extra)."""
    parsed = parse_backend_url(url, component="api keys")
    if parsed.kind == "memory":
        return MemoryApiKeyStore()
    return RedisApiKeyStore.from_url(parsed.url, key_prefix=key_prefix, clock=clock)
