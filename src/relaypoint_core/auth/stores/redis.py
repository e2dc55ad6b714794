"""Redis token store: families and revocations shared by every instance and kept across restarts.

Keys (all under ``KeyScheme("auth")``, hash-tagged by tenant):
``rp:auth:{t==acme}:fam:<family>`` is a hash ``{cur, rev, ct, ut, usr, cl, fid}`` (plus
``prev``/``gu``/``rp`` during a grace window) with a TTL that is renewed on each rotation;
``rp:auth:{t==acme}:rev:<token id>`` marks one revoked access token until it expires;
``rp:auth:{t==acme}:usr:<user>`` is the set of the user's family keys and
``rp:auth:{t==acme}:nbf:<user>`` the user's not-before time; ``rp:auth:{t=_}:epoch`` counts
not-before changes. Rotation, grace, listing and revoke-all are each one Lua script, so two
concurrent refreshes cannot both rotate; the scripts touch only keys of one tenant's hash slot
(family keys are read from the user's index inside that slot), so they run on Redis Cluster too.
The scripts ship as package data in ``lua/`` next to this module.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from importlib import resources
from typing import Any, TypeVar

from relaypoint_core.auth.store import Rotation, RotationOutcome, SessionInfo, TokenStore
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
    4: RotationOutcome.GRACE,
}


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisTokenStore(TokenStore):
    """A `TokenStore` on Redis or Redis Cluster."""

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
        self._clock = clock
        self._create_family = client.register_script(_script("create_family.lua"))
        self._rotate = client.register_script(_script("rotate.lua"))
        self._list_sessions = client.register_script(_script("list_sessions.lua"))
        self._revoke_user = client.register_script(_script("revoke_user.lua"))
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

    def _user_key(self, tenant_id: str | None, user_id: str) -> str:
        return self._keys.key(tenant_id, "usr", user_id)

    def _not_before_key(self, tenant_id: str | None, user_id: str) -> str:
        return self._keys.key(tenant_id, "nbf", user_id)

    def _epoch_key(self) -> str:
        return self._keys.key(None, "epoch")

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

    async def create_family(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        token_id: str,
        ttl: float,
        user_id: str | None = None,
        client: Mapping[str, str] | None = None,
    ) -> None:
        keys = [self._family_key(tenant_id, family_id)]
        if user_id is not None:
            keys.append(self._user_key(tenant_id, user_id))
        args = [
            token_id,
            _ms(ttl),
            repr(self._clock.time()),
            user_id or "",
            json.dumps(dict(client or {}), sort_keys=True),
            family_id,
        ]
        await self._call(self._create_family(keys=keys, args=args))

    async def rotate_with_grace(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
        grace: float,
        replay: bytes,
        user_id: str | None = None,
    ) -> Rotation:
        keys = [self._family_key(tenant_id, family_id)]
        if user_id is not None:
            keys.append(self._user_key(tenant_id, user_id))
        args = [
            presented_token_id,
            new_token_id,
            _ms(ttl),
            repr(self._clock.time()),
            repr(float(grace)),
            replay,
        ]
        result = await self._call(self._rotate(keys=keys, args=args))
        outcome = _OUTCOMES[int(result[0])]
        replayed = result[1] if outcome is RotationOutcome.GRACE and len(result) > 1 else None
        return Rotation(outcome, bytes(replayed) if replayed else None)

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

    async def list_sessions(self, tenant_id: str | None, user_id: str) -> list[SessionInfo]:
        flat = await self._call(self._list_sessions(keys=[self._user_key(tenant_id, user_id)]))
        sessions = []
        for i in range(0, len(flat), 4):
            family_id, created, used, client = (_text(v) for v in flat[i : i + 4])
            try:
                hints = {str(k): str(v) for k, v in json.loads(client).items()}
            except (ValueError, AttributeError):
                hints = {}
            sessions.append(SessionInfo(family_id, user_id, float(created), float(used), hints))
        return sorted(sessions, key=lambda s: (s.created_at, s.family_id))

    async def revoke_user(
        self, tenant_id: str | None, user_id: str, *, not_before: float, ttl: float
    ) -> int:
        keys = [self._user_key(tenant_id, user_id), self._not_before_key(tenant_id, user_id)]
        revoked = await self._call(self._revoke_user(keys=keys, args=[repr(not_before), _ms(ttl)]))
        # Another slot on a cluster, so a separate command: processes poll it to drop caches.
        await self._call(self._client.incr(self._epoch_key()))
        return int(revoked)

    async def not_before(self, tenant_id: str | None, user_id: str) -> float | None:
        value = await self._call(self._client.get(self._not_before_key(tenant_id, user_id)))
        return None if value is None else float(_text(value))

    async def epoch(self) -> int:
        value = await self._call(self._client.get(self._epoch_key()))
        return 0 if value is None else int(value)

    async def aclose(self) -> None:
        await self._client.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
