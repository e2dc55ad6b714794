"""What one rate-limit check decided, for every policy that applied to the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Decision", "DecisionSource", "PolicyScope", "PolicyState"]

PolicyScope = Literal["user", "tenant", "route"]
DecisionSource = Literal["backend", "memo", "fallback", "fail_open", "fail_closed"]


@dataclass(frozen=True, slots=True)
class PolicyState:
    """One window of one scope after the check.

    ``reset_after`` is the number of seconds until the oldest counted use leaves the window (when
    ``remaining`` next goes up); 0 when nothing is counted. ``retry_after`` is set on the
    policies that refused the request: the earliest time at which this request's cost fits.
    """

    name: str
    scope: PolicyScope
    tier: str | None
    window: str
    limit: int
    window_seconds: float
    used: int
    remaining: int
    reset_after: float
    retry_after: float | None = None

    @property
    def violated(self) -> bool:
        return self.retry_after is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one request: admitted or not, and the state of every policy checked.

    ``clock_us`` is the backend's clock when it decided (Redis ``TIME`` for Redis, the injected
    monotonic clock for memory), in microseconds; ``source`` says whether the backend, the local
    refusal memo, the local fallback limiter or a fault policy produced the verdict.
    """

    allowed: bool
    policies: tuple[PolicyState, ...]
    tier: str | None = None
    source: DecisionSource = "backend"
    clock_us: int = 0
    retry_after: float | None = None

    @property
    def violated(self) -> tuple[PolicyState, ...]:
        return tuple(p for p in self.policies if p.retry_after is not None)

    @property
    def degraded(self) -> bool:
        """True when the backend was not asked (fault policy or local fallback)."""
        return self.source in ("fallback", "fail_open", "fail_closed")

    @property
    def status_code(self) -> int:
        """200 when admitted, 429 when refused by a limit, 503 when refused by fail-closed."""
        if self.allowed:
            return 200
        return 503 if self.source == "fail_closed" else 429

    @property
    def most_constraining(self) -> PolicyState | None:
        """The policy a client should watch: the one that refused longest, else the fullest."""
        if not self.policies:
            return None
        violated = self.violated
        if violated:
            return max(violated, key=lambda p: p.retry_after or 0.0)
        return min(self.policies, key=lambda p: (p.remaining, -p.reset_after))
