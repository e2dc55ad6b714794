"""Costs known only after the response: reserve an estimate, then settle the actual cost.

``RateLimiter.reserve`` counts the estimate like any check (refusing when it does not fit), and
remembers in which bucket of which counters it was counted. ``RateLimiter.settle`` then takes
back the unused part from that same bucket (if it is still in the window) or charges the
difference now, atomically, in one backend call. An extra charge never pushes a window past its
limit: what does not fit is reported as ``unpaid`` (and counted by
``relaypoint_ratelimit_unpaid_cost_total``), so estimate generously.
"""

from __future__ import annotations

from dataclasses import dataclass

from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.identity import Identity

__all__ = ["Reservation", "Settlement"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """An estimate counted before the work, to be settled once the actual cost is known.

    Attributes:
        decision: The decision of the reservation (a refused one reserved nothing).
        identity: Whose counters hold it.
        estimate: The units reserved.
        counters: Per counter that counted it: key, window µs, bucket µs, limit, bucket index.
    """

    decision: Decision
    identity: Identity
    estimate: int
    counters: tuple[tuple[str, int, int, int, int], ...] = ()

    @property
    def allowed(self) -> bool:
        """Whether the estimate was admitted (the work may go ahead)."""
        return self.decision.allowed


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling did: units refunded, extra units charged, extra units that did not fit, and
    the backend's clock (µs) when it settled (0 when nothing was sent)."""

    refunded: int = 0
    charged: int = 0
    unpaid: int = 0
    clock_us: int = 0
