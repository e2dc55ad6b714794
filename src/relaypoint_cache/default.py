"""The default instance behind the seed's ``from app.core.cache import enterprise_cache``.

Nothing is read or connected at import time. Call `configure` at start-up, or let the first
use read ``REDIS_URL`` (L2 on Redis when set, L1 only when not) and ``ENABLE_CACHING`` (``false``
turns caching into a pass-through to the factory).
"""

from __future__ import annotations

from typing import Unpack

from relaypoint_cache.engine import Cache
from relaypoint_cache.settings import CacheOptions

__all__ = ["configure", "enterprise_cache"]

enterprise_cache = Cache(from_env=True)


def configure(url: str | None = None, **options: Unpack[CacheOptions]) -> Cache:
    """Configure `enterprise_cache` explicitly (the options are the fields of `CacheSettings`).

    Args:
        url: The L2 URL (``None`` or ``memory://`` for L1 only).
        **options: Any other `CacheSettings` field; those not given keep their value.

    Returns:
        `enterprise_cache`, reconfigured.

    Raises:
        CacheConfigurationError: An option is unknown or out of range.
    """
    enterprise_cache.configure(url, **options)
    return enterprise_cache
