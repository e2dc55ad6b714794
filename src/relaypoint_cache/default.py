"""The default instance behind the seed's ``from app.core.cache import enterprise_cache``.

Nothing is read or connected at import time. Call :func:`configure` at start-up, or let the first
use read ``REDIS_URL`` (L2 on Redis when set, L1 only when not) and ``ENABLE_CACHING`` (``false``
turns caching into a pass-through to the factory).
"""

from __future__ import annotations

from typing import Any

from relaypoint_cache.engine import Cache

__all__ = ["configure", "enterprise_cache"]

enterprise_cache = Cache(from_env=True)


def configure(url: str | None = None, **options: Any) -> Cache:
    """Configure :data:`enterprise_cache` explicitly (options as for :class:`Cache`)."""
    enterprise_cache.configure(url, **options)
    return enterprise_cache
