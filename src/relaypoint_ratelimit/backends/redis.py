"""The Redis backend: one EVALSHA per request, on one server or a Redis Cluster.

The Lua script (``sliding_window.lua``, shipped as package data) reads server ``TIME``, checks the
user's stored tier and every window counter of the request and counts them all, or nothing. All
keys of a request share a hash tag (see ``relaypoint_ratelimit.keys``), so the script runs on a
cluster node as it does on a single server. Every script that touches a window counter runs behind
``window.lua``, the one definition of a counter hash's layout (bucket fields, their running total
and the oldest bucket), so a check costs two hash commands per window whatever its buckets. A
server that lost its script cache (restart, ``SCRIPT FLUSH``, a new cluster node) answers
NOSCRIPT; the script is loaded and the call repeated. redis-py is imported only when this backend
is created.

On a single server (not a cluster, no ``max_connections`` cap) the script call skips redis-py's
command layer: the ``EVALSHA`` command of a request is packed into RESP bytes once per plan and
written on a connection taken from the backend's own idle stack (no pool lock, no per-command
packing, retry wrapper or observability hooks). redis-py's connection still connects,
authenticates, parses replies and drops itself on any error or cancellation; a connection the
server closed while it sat idle is reopened once.
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
from relaypoint_ratelimit.backends.base import (
    BackendRequest,
    BackendResult,
    LeaseResult,
    QuotaGrant,
    QuotaRequest,
    QuotaReturn,
    SettleRequest,
    SettleResult,
)
from relaypoint_ratelimit.errors import RateLimitBackendError

__all__ = ["SCRIPT_NAME", "RedisBackend", "load_script", "script_call"]

SCRIPT_NAME = "sliding_window.lua"

# Scripts that read or write window counters: each runs behind window.lua, the one definition of a
# counter hash's layout (bucket fields plus the running total and oldest bucket).
_WINDOW_SCRIPTS = frozenset({SCRIPT_NAME, "settle.lua", "quota_lease.lua", "quota_return.lua"})


@cache
def load_script(name: str = SCRIPT_NAME) -> tuple[str, str]:
    """The Lua source of one of the backend's scripts and its SHA1 (what EVALSHA names it by).

    A script that reads or writes window counters comes with ``window.lua`` in front of it (the
    counter hash's layout and the functions that read, count, refund and time it).

    Args:
        name: The script's file name (the limiter script by default).

    Returns:
        The source and its SHA1 in hex.
    """
    folder = resources.files("relaypoint_ratelimit.backends")
    source = folder.joinpath(name).read_text("utf-8")
    if name in _WINDOW_SCRIPTS:
        source = folder.joinpath("window.lua").read_text("utf-8") + "\n" + source
    return source, hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


def script_call(request: BackendRequest) -> tuple[tuple[str, ...], tuple[str | int, ...]]:
    """The keys and arguments of the limiter script's call for ``request``.

    Args:
        request: The backend request.

    Returns:
        ``KEYS`` (the stored-tier key or any key of the slot first, then one per counter) and
        ``ARGV`` (mode, expected tier, then window µs, bucket µs, limit, cost, shadow per counter).
    """
    check = request.tier_check
    first = check if check else request.counters[0].key
    expected = (
        request.expected_tier if check is not None and request.expected_tier is not None else "?"
    )
    args: list[str | int] = ["c" if request.consume else "p", expected]
    for spec in request.counters:
        args += (spec.window_us, spec.bucket_us, spec.limit, spec.cost, int(spec.shadow))
    return (first, *(c.key for c in request.counters)), tuple(args)


def _command(request: BackendRequest) -> tuple[int | bytes, ...]:
    keys, args = script_call(request)
    return (
        len(keys),
        *(k.encode("utf-8") for k in keys),
        *(str(a).encode("utf-8") for a in args),
    )


def _pack(parts: Sequence[bytes]) -> bytes:
    """One Redis command in RESP (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisBackend:
    """Counters in Redis hashes, tiers in Redis strings; every failure becomes
    ``RateLimitBackendError`` for the fault policy to handle.

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
        self._sha_bytes = self._sha.encode("ascii")
        redis_asyncio = require_module("redis.asyncio", extra="redis", feature="rate limiting")
        # Own connections only for a plain single-server client without a connection cap.
        self._direct = (
            type(self._client) is redis_asyncio.Redis
            and not self._client.single_connection_client
            and max_connections is None
        )
        self._idle: list[Any] = []

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
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
        await self._client.aclose()

    async def apply(self, request: BackendRequest) -> BackendResult:
        try:
            try:
                reply = await self._evalsha(request)
            except self._exceptions.NoScriptError:
                await self._client.script_load(self._source)
                reply = await self._evalsha(request)
        except self._errors as exc:
            raise RateLimitBackendError(
                f"rate limiter backend failed: {type(exc).__name__}: {exc}"
            ) from exc
        status = int(reply[0])
        stored = _text(reply[2]) if status == 2 else None
        return BackendResult(status, int(reply[1]), reply[3:], stored)

    async def _evalsha(self, request: BackendRequest) -> Any:
        state = request.remote_state
        command = state[2]
        if command is None:
            command = state[2] = _command(request)  # encoded once per request (plan)
        if not self._direct:
            return await self._client.execute_command("EVALSHA", self._sha, *command)
        if state[0] is not self._sha_bytes:
            state[0], state[1] = self._sha_bytes, self._packed(command)
        return await self._send(state[1])

    async def _send(self, packed: bytes) -> Any:
        """Write one packed command on an idle connection of the backend's own and read the reply."""
        idle = self._idle
        connection = idle.pop() if idle else self._client.connection_pool.make_connection()
        was_open = connection.is_connected
        try:
            try:
                await connection.send_packed_command(packed)
                return await connection.read_response()
            except self._exceptions.ConnectionError:
                if not was_open:
                    raise
                # Dropped by the server while idle (restart, idle timeout): reopen once.
                await connection.send_packed_command(packed)
                return await connection.read_response()
        finally:
            # A connection that failed has disconnected itself and reconnects on its next use.
            idle.append(connection)

    def _packed(self, command: tuple[int | bytes, ...]) -> bytes:
        parts = [b"EVALSHA", self._sha_bytes]
        parts += (p if isinstance(p, bytes) else str(p).encode() for p in command)
        return _pack(parts)

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """Run one of the other scripts (settle, leases, quota), loading it when needed."""
        source, sha = load_script(name)
        try:
            try:
                return await self._call_script(sha, keys, args)
            except self._exceptions.NoScriptError:
                await self._client.script_load(source)
                return await self._call_script(sha, keys, args)
        except self._errors as exc:
            raise RateLimitBackendError(
                f"rate limiter backend failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def _call_script(self, sha: str, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        if not self._direct:
            return await self._client.execute_command("EVALSHA", sha, len(keys), *keys, *args)
        parts = [b"EVALSHA", sha.encode("ascii"), b"%d" % len(keys)]
        parts += (k.encode("utf-8") for k in keys)
        parts += (str(a).encode("utf-8") for a in args)
        return await self._send(_pack(parts))

    async def settle(self, request: SettleRequest) -> SettleResult:
        args: list[str | int] = [request.refund, request.extra]
        for _, window_us, bucket_us, limit, index in request.counters:
            args += (window_us, bucket_us, limit, index)
        reply = await self._script("settle.lua", [c[0] for c in request.counters], args)
        return SettleResult(int(reply[0]), int(reply[1]))

    async def acquire_lease(self, key: str, token: str, limit: int, ttl_us: int) -> LeaseResult:
        reply = await self._script("lease.lua", [key], ["a", token, limit, ttl_us])
        return LeaseResult(bool(int(reply[0])), int(reply[1]), int(reply[2]), int(reply[3]))

    async def renew_lease(self, key: str, token: str, ttl_us: int) -> bool:
        reply = await self._script("lease.lua", [key], ["n", token, 0, ttl_us])
        return bool(int(reply[0]))

    async def release_lease(self, key: str, token: str) -> None:
        await self._script("lease.lua", [key], ["r", token])

    async def lease_quota(self, request: QuotaRequest) -> QuotaGrant:
        check = request.check
        keys, _ = script_call(check)
        tier = check.expected_tier if check.tier_check is not None else None
        args: list[str | int] = [
            "?" if tier is None else tier,
            request.token,
            request.max_slice,
            request.spread,
            check.counters[0].cost,
            request.give_back,
        ]
        back = request.back_indexes or (0,) * len(check.counters)
        for spec, index in zip(check.counters, back, strict=True):
            args += (spec.window_us, spec.bucket_us, spec.limit, index)
        reply = await self._script(
            "quota_lease.lua", (keys[0], request.holders_key, *keys[1:]), args
        )
        status = int(reply[0])
        if status == 2:  # the stored tier changed: nothing was read or written
            return QuotaGrant(BackendResult(status, int(reply[1]), (), _text(reply[2])), 0, 0)
        result = BackendResult(status, int(reply[1]), [int(v) for v in reply[5:]])
        return QuotaGrant(result, int(reply[3]), int(reply[4]))

    async def return_quota(self, request: QuotaReturn) -> None:
        args: list[str | int] = [request.token, request.units]
        for _, window_us, bucket_us, index in request.counters:
            args += (window_us, bucket_us, index)
        keys = (request.holders_key, *(c[0] for c in request.counters))
        await self._script("quota_return.lua", keys, args)

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
