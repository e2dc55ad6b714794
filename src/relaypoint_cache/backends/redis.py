"""The Redis L2: one server (``redis://``, ``rediss://``) or a Redis Cluster (``redis+cluster://``).

Invalidation notices travel on one classic pub/sub channel. On a Cluster a classic ``PUBLISH`` is
forwarded over the cluster bus to every node, so the listener subscribes on a single node (the
seed node, or any other known node when that one is lost) and still hears every notice; sharded
pub/sub (``SSUBSCRIBE``) would cut that broadcast but needs one subscription per shard and
re-subscription on every slot migration, which costs more than invalidation traffic saves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from relaypoint_cache.backends.direct import DirectGet
from relaypoint_core.backend_url import BackendURL
from relaypoint_core.optional import require_module
from relaypoint_core.redis_client import create_redis_client

__all__ = ["RedisBackend"]

_PING_EVERY = 2.0


def _script(name: str) -> str:
    return resources.files("relaypoint_cache.backends").joinpath("lua", name).read_text("utf-8")


class RedisBackend:
    """Talks to Redis for one `Cache`; create one per event loop."""

    def __init__(
        self,
        url: BackendURL,
        channel: str,
        *,
        op_timeout: float,
        max_connections: int | None = None,
    ) -> None:
        self.url = url
        self.is_cluster = url.is_cluster
        self.channel = channel
        # No socket timeout: redis-py implements it with a task per read, which doubles the cost
        # of a GET; the engine bounds every call with asyncio.timeout (no task) instead.
        self._client: Any = create_redis_client(
            url,
            component="cache",
            socket_timeout=None,
            connect_timeout=op_timeout,
            max_connections=max_connections,
        )
        # A plain single-server client without a cap: the GET of an L2 hit skips redis-py's
        # command layer (see .direct); everything else goes through the client.
        self._direct: DirectGet | None = None
        if not url.is_cluster and max_connections is None:
            exceptions = require_module("redis.exceptions", extra="redis", feature="cache on Redis")
            self._direct = DirectGet(self._client.connection_pool, exceptions.ConnectionError)
        self._acquire = self._client.register_script(_script("acquire_lease.lua"))
        self._store = self._client.register_script(_script("store.lua"))
        self._release = self._client.register_script(_script("release_lease.lua"))
        self._channel_bytes = channel.encode()

    async def get(self, key: str) -> bytes | None:
        if self._direct is not None:
            return await self._direct.get(key)
        value: bytes | None = await self._client.get(key)
        return value

    async def store(
        self,
        key: str,
        payload: bytes,
        ttl_ms: int,
        index: tuple[str, str, str],
        lease: tuple[str, int] | None,
        notice: bytes | None,
    ) -> bool:
        index_key, member, member_base = index
        lease_key, token = lease if lease is not None else (key, 0)
        keys = [key, index_key, lease_key]
        args = [payload, ttl_ms, member, str(token) if lease is not None else "", member_base]
        if notice is None:
            return bool(await self._store(keys=keys, args=args))
        if self.is_cluster:
            written = bool(await self._store(keys=keys, args=args))
            await self._client.publish(self._channel_bytes, notice)
            return written
        pipe = self._client.pipeline(transaction=False)
        await self._store(keys=keys, args=args, client=pipe)
        pipe.publish(self._channel_bytes, notice)
        written, _ = await pipe.execute()
        return bool(written)

    async def delete(self, key: str, notice: bytes | None) -> int:
        deleted = int(await self._client.delete(key))
        if notice is not None:
            await self._client.publish(self._channel_bytes, notice)
        return deleted

    async def versions(self, key: str, fields: list[str]) -> list[int]:
        raw = await self._client.hmget(key, fields)
        return [int(v) if v is not None else 0 for v in raw]

    async def bump(self, key: str, field: str, notice: bytes | None) -> int:
        value = int(await self._client.hincrby(key, field, 1))
        if notice is not None:
            await self._client.publish(self._channel_bytes, notice)
        return value

    async def acquire_lease(self, lease_key: str, fence_key: str, ttl_ms: int) -> int:
        return int(await self._acquire(keys=[lease_key, fence_key], args=[ttl_ms]))

    async def release_lease(self, lease_key: str, token: int) -> None:
        await self._release(keys=[lease_key], args=[token])

    async def lease_held(self, lease_key: str) -> bool:
        return bool(await self._client.exists(lease_key))

    async def index_delete(self, index_key: str, member_base: str, match: str, count: int) -> int:
        deleted = 0
        cursor = 0
        while True:
            cursor, members = await self._client.sscan(index_key, cursor, match=match, count=count)
            if members:
                # UNLINK frees memory off Redis's main thread; all keys share one Cluster slot.
                keys = [member_base.encode() + m for m in members]
                deleted += int(await self._client.unlink(*keys))
                await self._client.srem(index_key, *members)
            if int(cursor) == 0:
                return deleted
            await asyncio.sleep(0)

    async def publish(self, notice: bytes) -> None:
        await self._client.publish(self._channel_bytes, notice)

    def _listener_urls(self) -> list[str]:
        parts = urlsplit(self.url.redis_py_url())
        urls = [urlunsplit(parts)]
        if self.is_cluster:
            credentials = parts.netloc.rpartition("@")[0]
            for node in self._client.get_nodes():
                netloc = f"{node.host}:{node.port}"
                if credentials:
                    netloc = f"{credentials}@{netloc}"
                candidate = urlunsplit(parts._replace(netloc=netloc))
                if candidate not in urls:
                    urls.append(candidate)
        return urls

    async def listen(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None:
        """Deliver notices until the connection fails; raises so the caller can flush L1."""
        last_error: BaseException | None = None
        for url in self._listener_urls():
            client: Any = create_redis_client(
                url, component="cache", socket_timeout=None, connect_timeout=1.0
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(2.0):
                    await pubsub.subscribe(self._channel_bytes)
                on_subscribed()
                loop = asyncio.get_running_loop()
                quiet_since = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=_PING_EVERY / 2)
                    if message is not None:
                        quiet_since = loop.time()
                        if message.get("type") == "message":
                            on_message(message["data"])
                    elif loop.time() - quiet_since >= _PING_EVERY:
                        # A silent peer may be dead: the ping fails fast if it is.
                        async with asyncio.timeout(1.0):
                            await pubsub.ping()
                        quiet_since = loop.time()
            except (OSError, TimeoutError, ConnectionError) as exc:
                last_error = exc
            except Exception as exc:  # redis.exceptions.* are not OSError subclasses
                last_error = exc
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # noqa: S110 - the connection is already gone
                    pass
        raise ConnectionError(f"cache invalidation subscription lost: {last_error}")

    async def close(self) -> None:
        if self._direct is not None:
            await self._direct.close()
        await self._client.aclose()
