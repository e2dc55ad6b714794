"""Exceptions raised by relaypoint_ratelimit; all derive from relaypoint_core's error classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relaypoint_core.errors import BackendUnavailableError, ConfigurationError, RelayPointError

if TYPE_CHECKING:
    from relaypoint_ratelimit.decision import Decision

__all__ = [
    "RateLimitBackendError",
    "RateLimitConfigurationError",
    "RateLimitError",
    "RateLimitExceeded",
    "UnknownTierError",
]


class RateLimitError(RelayPointError):
    """Base class of the rate limiter's own errors."""


class RateLimitConfigurationError(RateLimitError, ConfigurationError, ValueError):
    """A tier, window, policy or limiter option is invalid; the message names what to fix."""


class UnknownTierError(RateLimitConfigurationError, LookupError):
    """A tier name that no configured tier carries."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown rate-limit tier {name!r}; configured tiers: {', '.join(known)}")


class RateLimitBackendError(RateLimitError, BackendUnavailableError):
    """The rate-limit store (Redis) failed or answered too slowly; the fault policy applies."""


class RateLimitExceeded(RateLimitError):
    """Raised by ``enforce`` when a request is refused; carries the decision."""

    http_status = 429
    problem_title = "Too many requests"
    problem_slug = "rate-limit-exceeded"
    expose_detail = True

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        retry = decision.retry_after
        super().__init__(
            "rate limit exceeded"
            + (f"; retry after {retry:.3f}s" if retry is not None else "")
            + (
                f" (policies: {', '.join(p.name for p in decision.violated)})"
                if decision.violated
                else ""
            )
        )
