"""What the limiter does when its backend is unreachable or slow."""

from __future__ import annotations

import enum

from relaypoint_ratelimit.errors import RateLimitConfigurationError

__all__ = ["FaultPolicy", "parse_fault_policy"]


class FaultPolicy(enum.StrEnum):
    """``OPEN`` admits (default: an outage of Redis is not an outage of your API); ``CLOSED``
    refuses with 503 and ``Retry-After``; ``LOCAL`` limits with a per-process memory limiter."""

    OPEN = "open"
    CLOSED = "closed"
    LOCAL = "local"


def parse_fault_policy(value: str | FaultPolicy) -> FaultPolicy:
    try:
        return FaultPolicy(value.lower() if isinstance(value, str) else value)
    except ValueError as exc:
        raise RateLimitConfigurationError(
            f"fault_policy must be one of 'open', 'closed', 'local', not {value!r}"
        ) from exc
