"""The Redis backend: one EVALSHA per request, on one server or a Redis Cluster.

The Lua script (``sliding_window.lua``, shipped as package data) reads server ``TIME``, checks the
user's stored tier and every window counter of the request and counts them all, or nothing. All
keys of a request share a hash tag (see :mod:`relaypoint_ratelimit.keys`), so the script runs on a
cluster node as it does on a single server. A server that lost its script cache (restart,
``SCRIPT FLUSH``, a new cluster node) answers NOSCRIPT; the script is loaded and the call repeated.
redis-py is imported only when this backend is created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from relaypoint_core.backend_url import BackendURL
from relaypoint_core.optional import require_module
from relaypoint_core.redis_client import create_redis_client
from relaypoint_ratelimit.backends.base import BackendRequest, BackendResult
from relaypoint_ratelimit.errors import RateLimitBackendError

__all__ = ["SCRIPT_NAME", "RedisBackend", "load_script"]

SCRIPT_NAME = "sliding_window.lua"


@cache
def load_script() -> tuple[str, str]:
    """The Lua source of the limiter script and its SHA1 (what EVALSHA names it by)."""
    source = (
        resources.files("relaypoint_ratelimit.backends").joinpath(SCRIPT_NAME).read_text("utf-8")
    )
    return source, hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisBackend:
    """Counters in Redis hashes, tiers in Redis strings; every failure becomes
    :class:`~relaypoint_ratelimit.errors.RateLimitBackendError` for the fault policy to handle.

    ``socket_timeout`` defaults to none because the limiter bounds every call as a whole with its
    own ``timeout`` (connection, write, read and a NOSCRIPT reload together); a second timer per
    read would only cost time. Connecting has its own ``connect_timeout``.
    """

    name = "redis"
    remote = True

    def __init__(
        self,
        url: str | BackendURL,
        *,
        socket_timeout: float | None = None,
        connect_timeout: float = 0.25,
        max_connections: int | None = None,
        client: Any = None,
    ) -> None:
        self._exceptions = require_module(
            "redis.exceptions", extra="redis", feature="rate limiting on Redis"
        )
        # RedisClusterException does not derive from RedisError; a dead cluster node raises it.
        self._errors: tuple[type[BaseException], ...] = (
            self._exceptions.RedisError,
            self._exceptions.RedisClusterException,
            OSError,
        )
        self._client = client or create_redis_client(
            url,
            component="relaypoint_ratelimit",
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
        )
        self._source, self._sha = load_script()

    @property
    def client(self) -> Any:
        return self._client

    async def startup(self) -> None:
        """Load the script (on every primary of a cluster)."""
        try:
            await self._client.script_load(self._source)
        except self._errors as exc:
            raise RateLimitBackendError(f"rate limiter could not load its script: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()

    async def apply(self, request: BackendRequest) -> BackendResult:
        command = request.script_command
        try:
            try:
                reply = await self._client.execute_command("EVALSHA", self._sha, *command)
            except self._exceptions.NoScriptError:
                await self._client.script_load(self._source)
                reply = await self._client.execute_command("EVALSHA", self._sha, *command)
        except self._errors as exc:
            raise RateLimitBackendError(
                f"rate limiter backend failed: {type(exc).__name__}: {exc}"
            ) from exc
        status = int(reply[0])
        stored = _text(reply[2]) if status == 2 else None
        return BackendResult(status, int(reply[1]), reply[3:], stored)

    async def get_tier(self, tier_key: str) -> str | None:
        try:
            value = await self._client.get(tier_key)
        except self._errors as exc:
            raise RateLimitBackendError(f"could not read a stored tier: {exc}") from exc
        return None if value is None else _text(value)

    async def set_tier(self, tier_key: str, tier: str | None) -> None:
        try:
            if tier is None:
                await self._client.delete(tier_key)
            else:
                await self._client.set(tier_key, tier)
        except self._errors as exc:
            raise RateLimitBackendError(f"could not store a tier: {exc}") from exc

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*keys)
        except self._errors as exc:
            raise RateLimitBackendError(f"could not delete rate-limit counters: {exc}") from exc
