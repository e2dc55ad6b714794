"""L2 backends chosen by URL: ``memory://`` means no shared level (L1 only), ``redis://``,
``rediss://`` and ``redis+cluster://`` select `RedisBackend`.
"""

from __future__ import annotations

from relaypoint_cache.backends.base import L2Backend
from relaypoint_core.backend_url import parse_backend_url

__all__ = ["L2Backend", "create_backend"]


def create_backend(
    url: str | None, *, channel: str, op_timeout: float, max_connections: int | None = None
) -> L2Backend | None:
    """The L2 for ``url``; ``None`` for ``memory://`` (the L1 is then the only level)."""
    parsed = parse_backend_url(url, component="cache")
    if parsed.kind == "memory":
        return None
    from relaypoint_cache.backends.redis import RedisBackend

    return RedisBackend(parsed, channel, op_timeout=op_timeout, max_connections=max_connections)
