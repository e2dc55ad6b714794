"""What one rate-limit check decided, for every policy that applied to the request.

Both are cheap to create on the hot path of every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

__all__ = ["Decision", "DecisionSource", "PolicyScope", "PolicySet", "PolicyState", "PolicyStatic"]

PolicyScope = Literal["user", "tenant", "route"]
DecisionSource = Literal["backend", "memo", "fallback", "fail_open", "fail_closed"]


class PolicyState(NamedTuple):
    """One window of one scope after the check.

    ``reset_after`` is the number of seconds until the oldest counted use leaves the window (when
    ``remaining`` next goes up); 0 when nothing is counted. ``retry_after`` is set on the
    policies that refused the request: the earliest time at which this request's cost fits.
    A ``shadow`` policy is evaluated and counted but never refuses: its ``retry_after`` says it
    would have (``would_limit``).
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
    shadow: bool = False

    @property
    def violated(self) -> bool:
        """Whether this policy refused the request (never true of a shadow policy)."""
        return self.retry_after is not None and not self.shadow

    @property
    def would_limit(self) -> bool:
        """Whether this shadow policy would have refused the request if it were enforced."""
        return self.retry_after is not None and self.shadow


PolicyStatic = tuple[str, PolicyScope, str | None, str, int, float, int, int, bool]
"""What a decision needs to know of one counter: name, scope, tier, window name, limit, window
seconds, window µs, bucket µs, shadow."""


class PolicySet(tuple[PolicyStatic, ...]):
    """The static description of the policies of one plan, shared by all its decisions.

    Text derived from it once (the ``RateLimit-Policy`` header value, for instance) is kept in
    ``derived`` so that every response does not rebuild it.
    """

    derived: dict[Any, Any]

    def __new__(cls, items: Iterable[PolicyStatic]) -> PolicySet:
        made = super().__new__(cls, items)
        made.derived = {}
        return made


class Decision:
    """The verdict for one request: admitted or not, and the state of every policy checked.

    ``clock_us`` is the backend's clock when it decided (Redis ``TIME`` for Redis, the injected
    monotonic clock for memory), in microseconds; ``source`` says whether the backend, the local
    refusal memo, the local fallback limiter or a fault policy produced the verdict.
    ``policies`` is built on first access from the backend's raw answer, so callers that only
    need ``allowed`` never pay for it. Treat a decision as immutable.
    """

    __slots__ = ("_policies", "_raw", "allowed", "clock_us", "retry_after", "source", "tier")

    def __init__(
        self,
        allowed: bool,
        policies: tuple[PolicyState, ...] | None = (),
        tier: str | None = None,
        source: DecisionSource = "backend",
        clock_us: int = 0,
        retry_after: float | None = None,
        raw: tuple[PolicySet, Sequence[int]] | None = None,
    ) -> None:
        self.allowed = allowed
        self._policies = policies
        self.tier = tier
        self.source: DecisionSource = source
        self.clock_us = clock_us
        self.retry_after = retry_after
        self._raw = raw

    @property
    def raw(self) -> tuple[PolicySet, Sequence[int]] | None:
        """The backend's raw answer this decision was made from (``None`` for synthetic ones):
        the plan's policies and, per policy, used, oldest bucket, retry time (µs)."""
        return self._raw

    def policies_static(self) -> list[tuple[str, int, float]]:
        """Name, limit and window seconds of each enforced (not shadow) policy, without building
        policy states."""
        if self._raw is not None:
            return [(s[0], s[4], s[5]) for s in self._raw[0] if not s[8]]
        return [(p.name, p.limit, p.window_seconds) for p in self.policies if not p.shadow]

    @property
    def policy_set(self) -> PolicySet | None:
        """The plan's static policy description, when the decision came from a backend answer."""
        return self._raw[0] if self._raw is not None else None

    @property
    def policies(self) -> tuple[PolicyState, ...]:
        policies = self._policies
        if policies is None:
            policies = self._policies = self._build_policies()
        return policies

    def _build_policies(self) -> tuple[PolicyState, ...]:
        assert self._raw is not None
        statics, values = self._raw
        now = self.clock_us
        states = []
        i = 0
        for name, scope, tier, window_name, limit, seconds, window_us, bucket_us, shadow in statics:
            used = values[i]
            oldest = values[i + 1]
            at = values[i + 2]
            i += 3
            reset = ((oldest + 1) * bucket_us + window_us - now) / 1_000_000 if oldest >= 0 else 0.0
            retry: float | None = None
            if at != 0:
                retry = float(seconds) if at < 0 else max(0.0, (at - now) / 1_000_000)
            states.append(
                PolicyState(
                    name,
                    scope,
                    tier,
                    window_name,
                    limit,
                    seconds,
                    used,
                    limit - used if used < limit else 0,
                    reset if reset > 0 else 0.0,
                    retry,
                    shadow,
                )
            )
        return tuple(states)

    def replace(self, **changes: Any) -> Decision:
        """A copy with some fields changed (``policies`` among them)."""
        fields: dict[str, Any] = {
            "allowed": self.allowed,
            "policies": self.policies,
            "tier": self.tier,
            "source": self.source,
            "clock_us": self.clock_us,
            "retry_after": self.retry_after,
        }
        fields.update(changes)
        return Decision(**fields)

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed!r}, source={self.source!r}, tier={self.tier!r}, "
            f"retry_after={self.retry_after!r}, policies={self.policies!r})"
        )

    @property
    def violated(self) -> tuple[PolicyState, ...]:
        """The enforced policies that refused the request."""
        return tuple(p for p in self.policies if p.retry_after is not None and not p.shadow)

    @property
    def would_limit(self) -> tuple[PolicyState, ...]:
        """The shadow policies that would have refused the request."""
        return tuple(p for p in self.policies if p.retry_after is not None and p.shadow)

    @property
    def enforced(self) -> tuple[PolicyState, ...]:
        """The policies that are not in shadow mode (the ones response headers describe)."""
        return tuple(p for p in self.policies if not p.shadow)

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
        """The policy a client should watch: the one that refused longest, else the fullest
        (shadow policies never)."""
        policies = self.enforced
        if not policies:
            return None
        if len(policies) == 1:
            return policies[0]
        if not self.allowed:
            violated = self.violated
            if violated:
                return max(violated, key=lambda p: p.retry_after or 0.0)
        best = policies[0]
        for p in policies:
            if p.remaining < best.remaining or (
                p.remaining == best.remaining and p.reset_after > best.reset_after
            ):
                best = p
        return best
