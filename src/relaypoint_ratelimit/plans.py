"""Plans: which counters one request touches, worked out once per identity and kept.

A plan holds the request's counters (the user's tier windows, the tenant's plan-tier windows and
an optional route policy's windows), the backend requests that check them (plain data: the
backend owns their encoding) and the static policy description decisions and headers are built
from. The ``Planner`` caches plans per identity and route, and the stored user tiers the backend
reported (tier hints): a plan built under a tier that has since changed is rebuilt.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from relaypoint_ratelimit.backends import REFUSED, BackendRequest, BackendResult, CounterSpec
from relaypoint_ratelimit.decision import Decision, DecisionSource, PolicyScope, PolicySet
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.metrics import RateLimitMetrics
from relaypoint_ratelimit.policies import RoutePolicy, Tier, TierSet, Window

__all__ = ["Plan", "PlanCounter", "Planner"]

logger = logging.getLogger("relaypoint.ratelimit")

_MAX_CACHED_PLANS = 50_000
_MAX_TIER_HINTS = 100_000


@dataclass(frozen=True, slots=True)
class PlanCounter:
    """One window counter of a plan."""

    name: str
    scope: PolicyScope
    tier: str | None
    window: Window
    shadow: bool = False


@dataclass(slots=True)
class Plan:
    """The counters of one kind of request and the backend requests that check them."""

    counters: tuple[PlanCounter, ...]
    consume: BackendRequest
    peek: BackendRequest
    tier: str | None
    tier_key: str | None
    stored: str
    # Per counter, what a decision needs (flat tuples: the hot path reads them without
    # attribute lookups): name, scope, tier, window name, limit, seconds, window µs, bucket µs,
    # shadow.
    statics: PolicySet
    # The metrics count of this plan's admissions by the backend (bumped in place).
    admitted: list[int]
    # The planner's tier-hints version when `stored` was last confirmed current.
    hints_version: int = 0
    # Positions of the shadow counters (evaluated and counted, never refusing).
    shadows: tuple[int, ...] = ()
    # This process's leased slice of the plan's windows (see `leasing`), when leasing is on.
    quota: object = None

    def decide(self, result: BackendResult, source: DecisionSource) -> Decision:
        """The decision of a backend answer to this plan's request.

        Args:
            result: The backend's answer (admitted or refused).
            source: Who answered (the backend, or the local fallback).

        Returns:
            The decision; when refused, its retry time is the longest of the enforced policies'.
        """
        now = result.now_us
        values = result.values
        if result.status != REFUSED:
            return Decision(True, None, self.tier, source, now, None, (self.statics, values))
        longest: float | None = None
        for i, static in enumerate(self.statics):
            at = values[3 * i + 2]
            if at != 0 and not static[8]:
                retry = float(static[5]) if at < 0 else max(0.0, (at - now) / 1_000_000)
                if longest is None or retry > longest:
                    longest = retry
        return Decision(False, None, self.tier, source, now, longest, (self.statics, values))


class Planner:
    """Builds and caches plans; remembers the stored user tiers the backend reported."""

    def __init__(
        self,
        tiers: TierSet,
        *,
        default_tier: str,
        anonymous_tier: str,
        default_tenant_tier: str | None,
        keys: RateLimitKeys,
        metrics: RateLimitMetrics,
        shadow: bool | Iterable[str] = False,
    ) -> None:
        self.tiers = tiers
        self.default_tier = default_tier
        self.anonymous_tier = anonymous_tier
        self.default_tenant_tier = default_tenant_tier
        self.keys = keys
        self.metrics = metrics
        self.shadow_all = shadow is True
        self.shadow_patterns: tuple[str, ...] = (
            () if isinstance(shadow, bool) else tuple(str(p) for p in shadow)
        )
        self.plans: dict[object, Plan] = {}
        self.tier_hints: dict[str, str] = {}
        # Bumped when a hint changes: a plan confirmed under the current version is current.
        self.hints_version = 0
        self._unknown_tiers_logged: set[str] = set()

    @staticmethod
    def key(
        identity: Identity, route: RoutePolicy | None, include_tiers: bool, cost: int
    ) -> object:
        """The cache key of a plan: the identity's field tuple alone for the usual call."""
        if route is None and include_tiers and cost == 1:
            return identity.fields
        return (identity.fields, route, include_tiers, cost)

    def plan(
        self,
        identity: Identity,
        route: RoutePolicy | None,
        include_tiers: bool,
        cost: int,
        plan_key: object,
    ) -> Plan:
        """The cached plan of ``plan_key``, rebuilt when the user's stored tier has changed."""
        plan = self.plans.get(plan_key)
        if plan is not None and plan.hints_version == self.hints_version:
            return plan
        if plan is None or (
            plan.tier_key is not None and self.tier_hints.get(plan.tier_key, "") != plan.stored
        ):
            tier_key = None if identity.anonymous else self.keys.user_tier(identity)
            stored = self.tier_hints.get(tier_key, "") if tier_key is not None else ""
            plan = self.build(identity, route, include_tiers, cost, tier_key, stored)
            if len(self.plans) >= _MAX_CACHED_PLANS:
                self.plans.clear()
            self.plans[plan_key] = plan
        # A plan without counters never takes the memory fast path (-1 never matches).
        plan.hints_version = self.hints_version if plan.counters else -1
        return plan

    def remember_tier(self, tier_key: str, tier: str) -> None:
        """Record the tier the backend stores under ``tier_key`` (``""``: none)."""
        if self.tier_hints.get(tier_key) == tier:
            return
        if len(self.tier_hints) >= _MAX_TIER_HINTS:
            self.tier_hints.clear()
        self.tier_hints[tier_key] = tier
        self.hints_version += 1

    def tier_of(self, name: str | None) -> Tier | None:
        """The configured tier called ``name``; an unknown name is logged once and ignored."""
        if name is None:
            return None
        if name in self.tiers:
            return self.tiers.get(name)
        if name not in self._unknown_tiers_logged:
            self._unknown_tiers_logged.add(name)
            logger.warning(
                "relaypoint ratelimit: unknown tier %r ignored (known: %s)", name, self.tiers.names
            )
        return None

    def effective_user_tier(self, identity: Identity, stored: str) -> Tier:
        """The tier bounding a user: stored tier, else the identity's hint, else the default."""
        if identity.anonymous:
            return self.tiers.get(self.anonymous_tier)
        return (
            self.tier_of(stored or None)
            or self.tier_of(identity.user_tier)
            or self.tiers.get(self.default_tier)
        )

    def is_shadow(self, name: str, route: RoutePolicy | None) -> bool:
        """Whether the policy called ``name`` runs in shadow mode."""
        if self.shadow_all or (route is not None and route.shadow):
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.shadow_patterns)

    def build(
        self,
        identity: Identity,
        route: RoutePolicy | None,
        include_tiers: bool,
        cost: int,
        tier_key: str | None,
        stored: str,
    ) -> Plan:
        """A new plan for ``identity`` (``stored``: the user's stored tier as last seen)."""
        counters: list[PlanCounter] = []
        keys: list[str] = []
        user_tier = self.effective_user_tier(identity, stored)
        if include_tiers:
            for window in user_tier.windows:
                name = f"user.{window.name}"
                counters.append(
                    PlanCounter(name, "user", user_tier.name, window, self.is_shadow(name, None))
                )
                keys.append(self.keys.user_window(identity, window))
            tenant_tier = None
            if identity.tenant_id is not None:
                tenant_tier = self.tier_of(identity.tenant_tier) or self.tier_of(
                    self.default_tenant_tier
                )
            if tenant_tier is not None:
                for window in tenant_tier.windows:
                    name = f"tenant.{window.name}"
                    shadow = self.is_shadow(name, None)
                    counters.append(PlanCounter(name, "tenant", tenant_tier.name, window, shadow))
                    keys.append(self.keys.tenant_window(identity, window))
        if route is not None:
            for window in route.windows:
                name = f"route.{route.name}.{window.name}"
                counters.append(
                    PlanCounter(name, "route", None, window, self.is_shadow(name, route))
                )
                keys.append(self.keys.route_window(identity, route.name, route.per, window))
        if not counters:
            empty = BackendRequest((CounterSpec("-", 1, 1, 1, 0),))
            return Plan((), empty, empty, user_tier.name, None, "", PolicySet(()), [0])
        specs = tuple(
            CounterSpec(key, c.window.window_us, c.window.bucket_us, c.window.limit, cost, c.shadow)
            for key, c in zip(keys, counters, strict=True)
        )
        statics = PolicySet(
            (
                c.name,
                c.scope,
                c.tier,
                c.window.name,
                c.window.limit,
                c.window.seconds,
                c.window.window_us,
                c.window.bucket_us,
                c.shadow,
            )
            for c in counters
        )
        check_tier = tier_key is not None and include_tiers
        if not check_tier:
            tier_key = None
        expected = stored if check_tier else None
        admitted = self.metrics.decision_cell(user_tier.name or "other", "allowed", "backend")
        return Plan(
            tuple(counters),
            BackendRequest(specs, True, tier_key, expected),
            BackendRequest(specs, False, tier_key, expected),
            user_tier.name,
            tier_key,
            stored,
            statics,
            admitted,
            shadows=tuple(i for i, c in enumerate(counters) if c.shadow),
        )
