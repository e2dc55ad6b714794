"""Costs known only after the response: reserve an estimate, then settle the actual cost.

``RateLimiter.reserve`` counts the estimate like any check (refusing when it does not fit), and
remembers in which bucket of which counters it was counted. ``RateLimiter.settle`` then takes
back the unused part from that same bucket (if it is still in the window) or charges the
difference now, atomically, in one backend call. An extra charge never pushes a window past its
limit: what does not fit is reported as ``unpaid`` (and counted by
``relaypoint_ratelimit_unpaid_cost_total``), so estimate generously.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relaypoint_ratelimit.backends import (
    MemoryBackend,
    RateLimitBackend,
    SettleRequest,
    SettlingBackend,
)
from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.errors import RateLimitBackendError, RateLimitConfigurationError
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.memo import RefusalMemo
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.plans import Planner
from relaypoint_ratelimit.policies import RoutePolicy

__all__ = ["Reservation", "Reserving", "Settlement"]

logger = logging.getLogger("relaypoint.ratelimit")


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


class Reserving:
    """``reserve`` and ``settle`` (part of ``RateLimiter``)."""

    backend: RateLimitBackend
    timeout: float
    planner: Planner
    memo: RefusalMemo
    _local: MemoryBackend | None

    if TYPE_CHECKING:

        @property
        def metrics(self) -> RateLimitMetrics: ...

        async def check(
            self,
            identity: Identity,
            *,
            cost: int = 1,
            route: RoutePolicy | None = None,
            include_tiers: bool = True,
        ) -> Decision: ...

    async def reserve(
        self,
        identity: Identity,
        estimate: int,
        *,
        route: RoutePolicy | None = None,
        include_tiers: bool = True,
    ) -> Reservation:
        """Count ``estimate`` units now, to be corrected by ``settle`` once the cost is known.

        Args:
            identity: The subject of the check.
            estimate: Units to reserve (refused like a check of that cost when they do not fit).
            route: An extra route policy to count.
            include_tiers: Whether to count the user's and tenant's tier windows.

        Returns:
            The reservation; ``reservation.allowed`` says whether the work may go ahead. A
            reservation decided without the backend (fault policy, refusal memo) has nothing to
            settle.
        """
        decision = await self.check(
            identity, cost=estimate, route=route, include_tiers=include_tiers
        )
        raw = decision.raw
        if not decision.allowed or decision.source != "backend" or raw is None:
            return Reservation(decision, identity, estimate)
        plan_key = Planner.key(identity, route, include_tiers, estimate)
        plan = self.planner.plan(identity, route, include_tiers, estimate, plan_key)
        now = decision.clock_us
        values = raw[1]
        counters = tuple(
            (spec.key, spec.window_us, spec.bucket_us, spec.limit, now // spec.bucket_us)
            for i, spec in enumerate(plan.consume.counters)
            if values[3 * i + 2] == 0  # a shadow counter that would refuse did not count it
        )
        return Reservation(decision, identity, estimate, counters)

    async def settle(self, reservation: Reservation, actual: int) -> Settlement:
        """Replace a reservation's estimate by the ``actual`` cost, atomically.

        Args:
            reservation: What ``reserve`` returned.
            actual: The units the work really consumed (0 or more).

        Returns:
            Units refunded, extra units charged and extra units that did not fit.

        Raises:
            RateLimitConfigurationError: ``actual`` is not a non-negative integer.
        """
        if type(actual) is not int or actual < 0:
            raise RateLimitConfigurationError(
                f"the actual cost must be a non-negative integer, not {actual!r}"
            )
        delta = actual - reservation.estimate
        if delta == 0 or not reservation.counters:
            return Settlement()
        backend = self.backend
        if not isinstance(backend, SettlingBackend):
            raise RateLimitConfigurationError(
                f"the {backend.name} backend cannot settle reservations (no settle method)"
            )
        request = SettleRequest(reservation.counters, max(0, -delta), max(0, delta))
        try:
            if self._local is not None:
                result = self._local.settle_now(request)
            else:
                result = await asyncio.wait_for(
                    backend.settle(request), timeout=max(self.timeout * 10, 1.0)
                )
        except (RateLimitBackendError, TimeoutError) as exc:
            logger.warning("relaypoint ratelimit: could not settle a reservation (%s)", exc)
            unpaid = max(0, delta)
            if unpaid:
                self.metrics.unpaid(reservation.decision.tier or "other", unpaid)
            return Settlement(unpaid=unpaid)
        # A remembered refusal outliving a refund only refuses early, never admits late.
        if delta < 0:
            self.memo.refunded(reservation.identity.fields)
            return Settlement(refunded=-delta, clock_us=result.now_us)
        unpaid = delta - result.charged
        if unpaid:
            self.metrics.unpaid(reservation.decision.tier or "other", unpaid)
        return Settlement(charged=result.charged, unpaid=unpaid, clock_us=result.now_us)
