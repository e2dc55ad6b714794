"""Helpers for your own tests of code that uses relaypoint_ratelimit.

``memory_limiter()`` gives a limiter on the memory backend with a ``FakeClock`` and a private
Prometheus registry, so tests control time and never collide on metric names;
``DecisionRecorder`` captures every decision a limiter makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit.backends import MemoryBackend
from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.engine import RateLimiter
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.policies import DEFAULT_TIERS, TierSet

__all__ = ["DecisionRecorder", "FakeClock", "MemoryBackend", "memory_limiter"]


@dataclass
class DecisionRecorder:
    """Pass as ``RateLimiter(on_decision=recorder)``; keeps every (identity, decision) in order."""

    records: list[tuple[Identity, Decision]] = field(default_factory=list)

    def __call__(self, identity: Identity, decision: Decision) -> None:
        self.records.append((identity, decision))

    @property
    def decisions(self) -> list[Decision]:
        return [d for _, d in self.records]

    @property
    def refused(self) -> list[Decision]:
        return [d for _, d in self.records if not d.allowed]


def memory_limiter(
    *,
    clock: FakeClock | None = None,
    tiers: TierSet = DEFAULT_TIERS,
    default_tier: str = "FREE",
    recorder: DecisionRecorder | None = None,
    **options: object,
) -> RateLimiter:
    """A ``RateLimiter`` on a fresh memory backend driven by ``clock`` (a new FakeClock by default)."""
    clock = clock or FakeClock()
    return RateLimiter(
        MemoryBackend(clock=clock),
        tiers=tiers,
        default_tier=default_tier,
        clock=clock,
        metrics=RateLimitMetrics(CollectorRegistry()),
        on_decision=recorder,
        **options,  # type: ignore[arg-type]
    )
