"""One way to build a redis-py asyncio client from a backend URL, shared by every component.

``redis://`` and ``rediss://`` give a `redis.asyncio.Redis`; ``redis+cluster://`` (or
``rediss+cluster://``) gives a `redis.asyncio.cluster.RedisCluster` seeded from that node.
redis-py is imported only here and only when called, so the bare install needs no Redis.

Connections outlive Redis restarts in the pool: after a restart every pooled socket is dead, and
without help each one fails the request that draws it (sporadic 503s for as long as stale
connections remain). So standalone clients get a health check (``PING`` before reusing a
connection idle for ``health_check_interval`` seconds) and exactly one immediate retry, on a
fresh connection, of a command that failed with a connection error. ``redis.asyncio.Redis.from_url``
builds its own pool and ignores a client-level retry, so the retry is configured on the pool's
connections. Timeouts are not retried: a slow Redis reaches the caller's fault policy at once.
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
    health_check_interval: float = 10.0,
    retry_on_connection_error: bool = True,
) -> Any:
    """Build an asyncio Redis (or Redis Cluster) client for ``url``.

    The timeouts are deliberately tight: every caller has a fault policy for a slow Redis, and a
    request should reach that policy quickly instead of hanging on a dead socket.

    Args:
        url: A ``redis://``, ``rediss://`` or ``redis+cluster://`` URL.
        component: Names the caller in error messages.
        socket_timeout: Seconds to wait for a reply.
        connect_timeout: Seconds to wait for a connection.
        max_connections: Pool size (redis-py's default when ``None``).
        decode_responses: Return ``str`` instead of ``bytes``.
        health_check_interval: ``PING`` a pooled connection idle this long before reusing it
            (standalone only; 0 disables).
        retry_on_connection_error: Retry a command once on a fresh connection when its
            connection turned out to be dead (standalone only; Redis Cluster refreshes its
            topology and retries on its own).

    Returns:
        A ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL.
        MissingExtraError: redis-py is not installed.
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
    options["health_check_interval"] = health_check_interval
    if retry_on_connection_error:
        retry = require_module("redis.asyncio.retry", extra="redis", feature=feature)
        backoff = require_module("redis.backoff", extra="redis", feature=feature)
        errors = require_module("redis.exceptions", extra="redis", feature=feature)
        options["retry"] = retry.Retry(
            backoff.NoBackoff(), 1, supported_errors=(errors.ConnectionError,)
        )
    return redis_asyncio.Redis.from_url(parsed.redis_py_url(), **options)
