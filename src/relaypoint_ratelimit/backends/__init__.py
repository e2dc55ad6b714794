"""Rate-limit storage backends, chosen by URL: ``memory://``, ``redis://``, ``rediss://``,
``redis+cluster://``."""

from __future__ import annotations

from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.clock import Clock, system_clock
from relaypoint_ratelimit.backends.base import (
    ADMITTED,
    REFUSED,
    TIER_CHANGED,
    BackendRequest,
    BackendResult,
    CounterSpec,
    LeaseBackend,
    LeaseResult,
    QuotaBackend,
    QuotaGrant,
    QuotaRequest,
    QuotaReturn,
    RateLimitBackend,
    SettleRequest,
    SettleResult,
    SettlingBackend,
)
from relaypoint_ratelimit.backends.memory import MemoryBackend

__all__ = [
    "ADMITTED",
    "REFUSED",
    "TIER_CHANGED",
    "BackendRequest",
    "BackendResult",
    "CounterSpec",
    "LeaseBackend",
    "LeaseResult",
    "MemoryBackend",
    "QuotaBackend",
    "QuotaGrant",
    "QuotaRequest",
    "QuotaReturn",
    "RateLimitBackend",
    "SettleRequest",
    "SettleResult",
    "SettlingBackend",
    "create_backend",
]


def create_backend(
    url: str | None,
    *,
    clock: Clock = system_clock,
    socket_timeout: float | None = None,
    connect_timeout: float = 0.25,
) -> RateLimitBackend:
    """The backend for ``url`` (``None`` or ``""``: memory). Redis is imported only for Redis URLs."""
    parsed = parse_backend_url(url, component="relaypoint_ratelimit")
    if parsed.kind == "memory":
        return MemoryBackend(clock=clock)
    from relaypoint_ratelimit.backends.redis import RedisBackend

    return RedisBackend(parsed, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
