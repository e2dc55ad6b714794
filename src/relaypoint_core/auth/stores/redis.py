"""Redis token store: families and revocations shared by every instance and kept across restarts.

Keys (all under ``KeyScheme("auth")``, hash-tagged by tenant):
``rp:auth:{t==acme}:fam:<family>`` is a hash ``{cur: <token id>, rev: 0|1}`` with a TTL that is
renewed on each rotation; ``rp:auth:{t==acme}:rev:<token id>`` marks one revoked access token
until it expires. Rotation is one Lua script, so two concurrent refreshes cannot both succeed.
The scripts ship as package data in ``lua/`` next to this module.
"""

from __future__ import annotations

from collections.abc import Awaitable
from importlib import resources
from typing import Any, TypeVar

from relaypoint_core.auth.store import RotationOutcome
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import BackendUnavailableError
from relaypoint_core.keys import DEFAULT_KEY_PREFIX, KeyScheme
from relaypoint_core.optional import require_module
from relaypoint_core.redis_client import create_redis_client

__all__ = ["RedisTokenStore"]

T = TypeVar("T")


def _script(name: str) -> str:
    return resources.files("relaypoint_core.auth.stores").joinpath("lua", name).read_text("utf-8")


_OUTCOMES = {
    0: RotationOutcome.UNKNOWN,
    1: RotationOutcome.ROTATED,
    2: RotationOutcome.REVOKED,
    3: RotationOutcome.REUSED,
}


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisTokenStore:
    """A :class:`~relaypoint_core.auth.store.TokenStore` on Redis or Redis Cluster."""

    def __init__(
        self,
        client: Any,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        breaker: CircuitBreaker | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._client = client
        # A dead Redis then costs one fast error per call instead of a socket timeout.
        self.breaker = breaker or CircuitBreaker("auth token store", clock=clock)
        self._keys = KeyScheme("auth", key_prefix)
        self._rotate = client.register_script(_script("rotate.lua"))
        self._revoke_family = client.register_script(_script("revoke_family.lua"))
        self._is_revoked = client.register_script(_script("is_revoked.lua"))
        self._redis_errors: tuple[type[BaseException], ...] = (
            require_module("redis.exceptions", extra="redis", feature="auth on Redis").RedisError,
            OSError,
        )

    @classmethod
    def from_url(
        cls, url: str, *, key_prefix: str = DEFAULT_KEY_PREFIX, clock: Clock = system_clock
    ) -> RedisTokenStore:
        return cls(create_redis_client(url, component="auth"), key_prefix=key_prefix, clock=clock)

    def _family_key(self, tenant_id: str | None, family_id: str) -> str:
        return self._keys.key(tenant_id, "fam", family_id)

    def _revoked_key(self, tenant_id: str | None, token_id: str) -> str:
        return self._keys.key(tenant_id, "rev", token_id)

    async def _call(self, operation: Awaitable[T]) -> T:
        if not self.breaker.allow():
            close = getattr(operation, "close", None)
            if close is not None:
                close()  # never awaited: release the coroutine quietly
            raise BackendUnavailableError(
                "auth token store on Redis is unavailable (circuit open); refresh and logout "
                "cannot be honoured until it is back"
            )
        try:
            result = await operation
        except self._redis_errors as exc:
            self.breaker.record_failure()
            raise BackendUnavailableError(
                f"auth token store on Redis is unavailable ({type(exc).__name__}: {exc}); "
                "refresh and logout cannot be honoured until it is back"
            ) from exc
        self.breaker.record_success()
        return result

    async def _create(self, key: str, token_id: str, ttl: float) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"cur": token_id, "rev": "0"})
            pipe.pexpire(key, _ms(ttl))
            await pipe.execute()

    async def create_family(
        self, tenant_id: str | None, family_id: str, *, token_id: str, ttl: float
    ) -> None:
        await self._call(self._create(self._family_key(tenant_id, family_id), token_id, ttl))

    async def rotate(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
    ) -> RotationOutcome:
        code = await self._call(
            self._rotate(
                keys=[self._family_key(tenant_id, family_id)],
                args=[presented_token_id, new_token_id, _ms(ttl)],
            )
        )
        return _OUTCOMES[int(code)]

    async def revoke_family(self, tenant_id: str | None, family_id: str) -> bool:
        code = await self._call(self._revoke_family(keys=[self._family_key(tenant_id, family_id)]))
        return int(code) == 1

    async def revoke_token(self, tenant_id: str | None, token_id: str, *, ttl: float) -> None:
        if ttl <= 0:
            return
        await self._call(
            self._client.set(self._revoked_key(tenant_id, token_id), b"1", px=_ms(ttl))
        )

    async def is_revoked(self, tenant_id: str | None, token_id: str, family_id: str | None) -> bool:
        keys = [self._revoked_key(tenant_id, token_id)]
        if family_id is not None:
            keys.append(self._family_key(tenant_id, family_id))
        return int(await self._call(self._is_revoked(keys=keys))) == 1

    async def aclose(self) -> None:
        await self._client.aclose()
