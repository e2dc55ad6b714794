"""One way to build a redis-py asyncio client from a backend URL, shared by every component.

``redis://`` and ``rediss://`` give a :class:`redis.asyncio.Redis`; ``redis+cluster://`` (or
``rediss+cluster://``) gives a :class:`redis.asyncio.cluster.RedisCluster` seeded from that node.
redis-py is imported only here and only when called, so the bare install needs no Redis.
"""

from __future__ import annotations

from typing import Any

from relaypoint_core.backend_url import BackendURL, parse_backend_url
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.optional import require_module

__all__ = ["create_redis_client"]


def create_redis_client(
    url: str | BackendURL,
    *,
    component: str,
    socket_timeout: float | None = 0.5,
    connect_timeout: float | None = 0.5,
    max_connections: int | None = None,
    decode_responses: bool = False,
) -> Any:
    """Build an asyncio Redis (or Redis Cluster) client for ``url``.

    The timeouts are deliberately tight: every caller has a fault policy for a slow Redis, and a
    request should reach that policy quickly instead of hanging on a dead socket.
    """
    parsed = url if isinstance(url, BackendURL) else parse_backend_url(url, component=component)
    if parsed.kind != "redis":
        raise ConfigurationError(f"{component}: {parsed.url!r} is not a Redis URL")
    feature = f"{component} on Redis"
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "decode_responses": decode_responses,
    }
    if max_connections is not None:
        options["max_connections"] = max_connections
    if parsed.is_cluster:
        cluster = require_module("redis.asyncio.cluster", extra="redis", feature=feature)
        return cluster.RedisCluster.from_url(parsed.redis_py_url(), **options)
    redis_asyncio = require_module("redis.asyncio", extra="redis", feature=feature)
    return redis_asyncio.Redis.from_url(parsed.redis_py_url(), **options)
