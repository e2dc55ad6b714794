"""The rate limiter's options: one frozen object shared by the engine and the ASGI middleware.

``RateLimiter(backend, options=..., **keywords)`` and ``EnterpriseRateLimiter(app, ...,
**keywords)`` take the same keywords (`LimiterKeywords`); both build one `LimiterOptions` from
them, so each option and its default is declared here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.keys import DEFAULT_KEY_PREFIX
from relaypoint_ratelimit.errors import RateLimitConfigurationError
from relaypoint_ratelimit.faults import FaultPolicy
from relaypoint_ratelimit.policies import DEFAULT_TIERS, TierSet

if TYPE_CHECKING:
    from relaypoint_ratelimit.decision import Decision
    from relaypoint_ratelimit.identity import Identity
    from relaypoint_ratelimit.metrics import RateLimitMetrics

__all__ = ["LimiterKeywords", "LimiterOptions"]


@dataclass(frozen=True, slots=True)
class LimiterOptions:
    """How a `RateLimiter` limits: tiers, fault handling, timeouts, keys, clock and metrics."""

    tiers: TierSet = DEFAULT_TIERS
    default_tier: str = "FREE"
    """The tier of a user with no stored tier."""
    anonymous_tier: str | None = None
    """The tier of anonymous clients (``default_tier`` when ``None``)."""
    default_tenant_tier: str | None = None
    """The plan tier of a tenant with none stored (no tenant limit when ``None``)."""
    fault_policy: str | FaultPolicy = FaultPolicy.OPEN
    """What answers while the backend is down: ``open``, ``closed`` or ``local``."""
    timeout: float = 0.1
    """Seconds one backend call may take (0 < timeout <= 60)."""
    circuit_failure_threshold: int = 3
    circuit_reset_timeout: float = 2.0
    key_prefix: str = DEFAULT_KEY_PREFIX
    clock: Clock = system_clock
    metrics: RateLimitMetrics | None = None
    """Where decisions are counted (the process-wide default when ``None``)."""
    memo_refusals: bool = True
    """Answer a client refused until T from memory until T."""
    on_decision: Callable[[Identity, Decision], None] | None = None
    shadow: bool | Iterable[str] = False
    """``True`` or shell patterns of policy names that only count, never refuse."""
    quota_lease: float = 0.0
    """Local quota leasing on a remote backend: the largest slice a process leases, as a fraction
    of the plan's smallest limit (``s_max``; 0.05 leases up to 250 of 5,000/minute). 0 turns it
    off (every check is one round trip). At most 0.5."""
    quota_lease_spread: int = 2
    """``k``: a slice is at most ``1 / (k * holders)`` of the smallest budget left."""

    def replace(self, **changes: object) -> LimiterOptions:
        """A copy with ``changes`` applied.

        Raises:
            RateLimitConfigurationError: A change names no option.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise RateLimitConfigurationError(
                f"unknown rate-limit option(s): {', '.join(sorted(unknown))}"
            )
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class LimiterKeywords(TypedDict, total=False):
    """The keyword form of `LimiterOptions` (``RateLimiter(...)``, ``EnterpriseRateLimiter(...)``)."""

    tiers: TierSet
    default_tier: str
    anonymous_tier: str | None
    default_tenant_tier: str | None
    fault_policy: str | FaultPolicy
    timeout: float
    circuit_failure_threshold: int
    circuit_reset_timeout: float
    key_prefix: str
    clock: Clock
    metrics: RateLimitMetrics | None
    memo_refusals: bool
    on_decision: Callable[[Identity, Decision], None] | None
    shadow: bool | Iterable[str]
    quota_lease: float
    quota_lease_spread: int
