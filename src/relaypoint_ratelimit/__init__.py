"""relaypoint_ratelimit: tiered sliding-window rate limiting, one Redis round trip per request.

::

    from relaypoint_ratelimit import EnterpriseRateLimiter

    rate_limiter = EnterpriseRateLimiter(app, redis_url="redis://localhost:6379")
    await rate_limiter.startup()
    await rate_limiter.set_user_tier(user_id, "PROFESSIONAL")
    stats = await rate_limiter.get_usage_stats(user_id)

Importing this package pulls in no Redis client and no web framework; ``relaypoint_ratelimit.fastapi``
needs ``relaypoint[fastapi]`` and Redis URLs need ``relaypoint[redis]``.
"""

from __future__ import annotations

from relaypoint_ratelimit.asgi import EnterpriseRateLimiter, decision_of, report_cost
from relaypoint_ratelimit.backends import MemoryBackend, RateLimitBackend, create_backend
from relaypoint_ratelimit.concurrency import ConcurrencyLimiter, ConcurrencyPolicy, Lease
from relaypoint_ratelimit.decision import Decision, PolicyState
from relaypoint_ratelimit.engine import RateLimiter, UsageStats, WindowUsage
from relaypoint_ratelimit.errors import (
    RateLimitBackendError,
    RateLimitConfigurationError,
    RateLimitError,
    RateLimitExceeded,
    UnknownTierError,
)
from relaypoint_ratelimit.faults import FaultPolicy
from relaypoint_ratelimit.headers import problem_body, rate_limit_headers
from relaypoint_ratelimit.identity import (
    Identity,
    ScopeIdentityResolver,
    VerifiedIdentityResolver,
    client_address,
)
from relaypoint_ratelimit.messages import MessageRateLimiter
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.options import LimiterOptions
from relaypoint_ratelimit.policies import (
    DEFAULT_BUCKETS,
    DEFAULT_TIERS,
    RoutePolicy,
    Tier,
    TierSet,
    Window,
    parse_windows,
)
from relaypoint_ratelimit.reservations import Reservation, Settlement

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_TIERS",
    "ConcurrencyLimiter",
    "ConcurrencyPolicy",
    "Decision",
    "EnterpriseRateLimiter",
    "FaultPolicy",
    "Identity",
    "Lease",
    "LimiterOptions",
    "MemoryBackend",
    "MessageRateLimiter",
    "PolicyState",
    "RateLimitBackend",
    "RateLimitBackendError",
    "RateLimitConfigurationError",
    "RateLimitError",
    "RateLimitExceeded",
    "RateLimitMetrics",
    "RateLimiter",
    "Reservation",
    "RoutePolicy",
    "ScopeIdentityResolver",
    "Settlement",
    "Tier",
    "TierSet",
    "UnknownTierError",
    "UsageStats",
    "VerifiedIdentityResolver",
    "Window",
    "WindowUsage",
    "client_address",
    "create_backend",
    "decision_of",
    "parse_windows",
    "problem_body",
    "rate_limit_headers",
    "report_cost",
]
