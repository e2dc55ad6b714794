"""The framework-free rate limiter: ``check``, ``peek``, ``reset``, stored tiers, usage stats.

One ``RateLimiter.check`` takes the request's plan (its counters: the user's tier windows, the
tenant's plan-tier windows and an optional route policy's windows, see ``plans``), sends it to the
backend as one atomic call through the guard (timeout, circuit breaker, see ``guard``) and turns
the answer into a ``Decision``; the fault policy answers when the guard gets none, and the memo
of refusals (see ``memo``) answers a client refused until T, until T, at no backend cost.
``check_now`` is the same check answered synchronously on the in-process backend.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Unpack

from relaypoint_core.circuit import CircuitBreaker
from relaypoint_ratelimit.backends import (
    ADMITTED,
    TIER_CHANGED,
    BackendRequest,
    BackendResult,
    MemoryBackend,
    RateLimitBackend,
    create_backend,
)
from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.errors import (
    RateLimitBackendError,
    RateLimitConfigurationError,
    RateLimitError,
    RateLimitExceeded,
)
from relaypoint_ratelimit.faults import FaultPolicy, parse_fault_policy
from relaypoint_ratelimit.guard import BackendGuard
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.leasing import QuotaLeases
from relaypoint_ratelimit.memo import RefusalMemo
from relaypoint_ratelimit.metrics import RateLimitMetrics, default_metrics
from relaypoint_ratelimit.options import LimiterKeywords, LimiterOptions
from relaypoint_ratelimit.plans import Plan, Planner
from relaypoint_ratelimit.policies import RoutePolicy, Tier, TierSet
from relaypoint_ratelimit.reservations import Reserving
from relaypoint_ratelimit.shadow import ShadowLog
from relaypoint_ratelimit.subjects import SubjectAdmin
from relaypoint_ratelimit.usage import UsageStats, WindowUsage

__all__ = ["RateLimiter", "UsageStats", "WindowUsage"]

logger = logging.getLogger("relaypoint.ratelimit")


class RateLimiter(SubjectAdmin, Reserving):
    """Tiered sliding-window limits per user, per tenant and per route, on any backend.

    ``backend`` is a URL (``memory://`` by default, ``redis://``, ``rediss://``,
    ``redis+cluster://``) or a ``RateLimitBackend``. ``shadow`` puts every policy (``True``) or
    the policies whose names match the given shell patterns in shadow mode.
    """

    def __init__(
        self,
        backend: str | RateLimitBackend | None = None,
        *,
        options: LimiterOptions | None = None,
        **keywords: Unpack[LimiterKeywords],
    ) -> None:
        opts = (options or LimiterOptions()).replace(**keywords)
        self.options = opts
        tiers, timeout, clock = opts.tiers, opts.timeout, opts.clock
        default_tier, anonymous_tier = opts.default_tier, opts.anonymous_tier
        default_tenant_tier, fault_policy = opts.default_tenant_tier, opts.fault_policy
        key_prefix, metrics, shadow = opts.key_prefix, opts.metrics, opts.shadow
        circuit_failure_threshold = opts.circuit_failure_threshold
        circuit_reset_timeout = opts.circuit_reset_timeout
        memo_refusals, on_decision = opts.memo_refusals, opts.on_decision
        if not isinstance(tiers, TierSet):
            raise RateLimitConfigurationError("tiers must be a TierSet (see TierSet.from_mapping)")
        if not (isinstance(timeout, int | float) and 0 < timeout <= 60):
            raise RateLimitConfigurationError(
                f"timeout must be between 0 and 60 seconds, not {timeout!r}"
            )
        self.tiers = tiers
        self.default_tier = tiers.normalise(default_tier)
        self.anonymous_tier = tiers.normalise(anonymous_tier or default_tier)
        self.default_tenant_tier = (
            tiers.normalise(default_tenant_tier) if default_tenant_tier is not None else None
        )
        self.fault_policy = parse_fault_policy(fault_policy)
        self.timeout = float(timeout)
        handed_in = not (backend is None or isinstance(backend, str))
        if backend is None or isinstance(backend, str):
            backend = create_backend(backend, clock=clock, connect_timeout=max(timeout, 0.05))
        if not isinstance(backend, RateLimitBackend):
            raise RateLimitConfigurationError(
                f"backend must be a URL or a RateLimitBackend, not {backend!r}"
            )
        self.backend: RateLimitBackend = backend
        self._fallback = (
            MemoryBackend(clock=clock) if self.fault_policy is FaultPolicy.LOCAL else None
        )
        self.keys = RateLimitKeys(key_prefix)
        self._metrics = metrics if metrics is not None else default_metrics()
        self.planner = Planner(
            tiers,
            default_tier=self.default_tier,
            anonymous_tier=self.anonymous_tier,
            default_tenant_tier=self.default_tenant_tier,
            keys=self.keys,
            metrics=self._metrics,
            shadow=shadow,
        )
        self._plans = self.planner.plans  # the same dict, read on the hot path
        self.guard = BackendGuard(
            backend,
            fault_policy=self.fault_policy,
            fallback=self._fallback,
            timeout=self.timeout,
            failure_threshold=circuit_failure_threshold,
            reset_timeout=circuit_reset_timeout,
            clock=clock,
            metrics=self._metrics,
        )
        self.circuit: CircuitBreaker = self.guard.circuit
        self.leases = QuotaLeases.for_limiter(opts, self.guard, shared=handed_in)
        # The memory backend is called synchronously (its apply never awaits), unless leased.
        self._local = backend if type(backend) is MemoryBackend and self.leases is None else None
        self.memo = RefusalMemo(clock)
        self._memo = self.memo.entries  # the same dict, read on the hot path
        self._memo_enabled = memo_refusals
        self.shadow_log = ShadowLog(self._metrics)
        self._on_decision = on_decision
        self._routes: tuple[RoutePolicy, ...] = ()

    @property
    def metrics(self) -> RateLimitMetrics:
        return self._metrics

    @metrics.setter
    def metrics(self, metrics: RateLimitMetrics) -> None:
        self._metrics = self.planner.metrics = self.guard.metrics = metrics
        self.shadow_log.metrics = metrics
        self._plans.clear()  # plans hold counts of the previous metrics

    @property
    def shadow_all(self) -> bool:
        """Whether every policy runs in shadow mode."""
        return self.planner.shadow_all

    # --- lifecycle ----------------------------------------------------------------------------

    async def startup(self) -> None:
        """Connect and load scripts. An unreachable backend is logged, not raised: the fault
        policy covers it, and the first successful call loads the script if needed."""
        try:
            await asyncio.wait_for(self.backend.startup(), timeout=max(self.timeout * 10, 1.0))
        except (RateLimitBackendError, TimeoutError) as exc:
            logger.warning(
                "relaypoint ratelimit: backend %s not ready at startup (%s); fault policy %r applies "
                "until it is",
                self.backend.name,
                exc,
                self.fault_policy.value,
            )

    async def aclose(self) -> None:
        """Give back the unspent leased quota, then close the backend."""
        if self.leases is not None:
            await self.leases.aclose()
        await self.backend.aclose()

    # --- the checks ---------------------------------------------------------------------------

    async def check(
        self,
        identity: Identity,
        *,
        cost: int = 1,
        route: RoutePolicy | None = None,
        include_tiers: bool = True,
    ) -> Decision:
        """Count one request of ``cost`` against every policy that applies, if all admit it.

        Args:
            identity: The subject of the check.
            cost: Units the request consumes in every window that applies.
            route: An extra route policy to count.
            include_tiers: Whether to count the user's and tenant's tier windows.

        Returns:
            The decision.
        """
        if self._local is not None:
            return self._check_local(identity, cost, route, include_tiers)
        return await self._run(identity, cost, route, include_tiers, consume=True)

    def check_now(
        self,
        identity: Identity,
        *,
        cost: int = 1,
        route: RoutePolicy | None = None,
        include_tiers: bool = True,
    ) -> Decision | None:
        """``check`` answered synchronously when the backend can (the in-process memory backend).

        Args:
            identity: The subject of the check.
            cost: Units the request consumes in every window that applies.
            route: An extra route policy to count.
            include_tiers: Whether to count the user's and tenant's tier windows.

        Returns:
            The decision, or ``None`` when the backend needs an ``await check(...)``.
        """
        if self._local is None:
            return None
        return self._check_local(identity, cost, route, include_tiers)

    async def peek(
        self,
        identity: Identity,
        *,
        cost: int = 1,
        route: RoutePolicy | None = None,
        include_tiers: bool = True,
    ) -> Decision:
        """What ``check`` would decide, without counting anything."""
        return await self._run(identity, cost, route, include_tiers, consume=False)

    async def enforce(
        self, identity: Identity, *, cost: int = 1, route: RoutePolicy | None = None
    ) -> Decision:
        """``check``, raising ``RateLimitExceeded`` when the request is refused."""
        decision = await self.check(identity, cost=cost, route=route)
        if not decision.allowed:
            raise RateLimitExceeded(decision)
        return decision

    def _check_local(
        self, identity: Identity, cost: int, route: RoutePolicy | None, include_tiers: bool
    ) -> Decision:
        """``check`` on the memory backend, which answers without awaiting: no coroutine, no
        timeout, no circuit (it cannot fail). The usual case, an admission under a current plan,
        is written out here; anything else goes through the general loop."""
        if type(cost) is not int or cost < 1:
            raise RateLimitConfigurationError(
                f"request cost must be a positive integer, not {cost!r}"
            )
        # Planner.key, inlined: this is the hot path of every request on the memory backend.
        plan_key: object = (
            identity.fields
            if route is None and include_tiers and cost == 1
            else (identity.fields, route, include_tiers, cost)
        )
        plan = self._plans.get(plan_key)
        memo = self._memo
        if (
            plan is None
            or plan.hints_version != self.planner.hints_version
            or (memo and plan_key in memo)
        ):
            return self._check_local_general(identity, cost, route, include_tiers, plan_key)
        result = self._local.apply_now(plan.consume)  # type: ignore[union-attr]
        if result[0] == ADMITTED:
            decision = Decision(
                True, None, plan.tier, "backend", result[1], None, (plan.statics, result[2])
            )
            plan.admitted[0] += 1
            if plan.shadows:
                self.shadow_log.observe(plan_key, plan.statics, plan.shadows, result[2])
            if self._on_decision is not None:
                self._on_decision(identity, decision)
            return decision
        concluded = self._conclude(identity, plan, plan_key, plan.consume, result, True)
        if concluded is None:  # the stored tier changed
            return self._check_local_general(identity, cost, route, include_tiers, plan_key)
        return concluded

    def _check_local_general(
        self,
        identity: Identity,
        cost: int,
        route: RoutePolicy | None,
        include_tiers: bool,
        plan_key: object,
    ) -> Decision:
        local = self._local
        assert local is not None
        for _attempt in range(4):
            step = self._prepare(identity, route, include_tiers, cost, plan_key, True)
            if isinstance(step, Decision):
                return step
            plan, request = step
            decision = self._conclude(
                identity, plan, plan_key, request, local.apply_now(request), True
            )
            if decision is not None:
                return decision
        raise RateLimitError("the user's stored tier kept changing during the check; try again")

    async def _run(
        self,
        identity: Identity,
        cost: int,
        route: RoutePolicy | None,
        include_tiers: bool,
        *,
        consume: bool,
    ) -> Decision:
        # No lazy startup() here: a request must never wait past the call timeout, and the first
        # call loads the script itself (NOSCRIPT) within that timeout.
        if type(cost) is not int or cost < (1 if consume else 0):
            raise RateLimitConfigurationError(
                f"request cost must be a positive integer, not {cost!r}"
            )
        plan_key = Planner.key(identity, route, include_tiers, cost)
        local, leases = self._local, self.leases if consume else None
        for _attempt in range(4):
            step = self._prepare(identity, route, include_tiers, cost, plan_key, consume)
            if isinstance(step, Decision):
                return step
            plan, request = step
            result = (
                local.apply_now(request)
                if local is not None
                else await (
                    self.guard.call(request) if leases is None else leases.check(plan, request)
                )
            )
            decision = self._conclude(identity, plan, plan_key, request, result, consume)
            if decision is not None:
                return decision
        raise RateLimitError("the user's stored tier kept changing during the check; try again")

    def _prepare(
        self,
        identity: Identity,
        route: RoutePolicy | None,
        include_tiers: bool,
        cost: int,
        plan_key: object,
        consume: bool,
    ) -> Decision | tuple[Plan, BackendRequest]:
        """The first half of one attempt: the plan and its request, or a decision made without
        the backend (a remembered refusal, or a plan with nothing to count)."""
        plan = self.planner.plan(identity, route, include_tiers, cost, plan_key)
        if consume and self._memo:
            remembered = self.memo.lookup(plan_key)
            if remembered is not None:
                return self._finish(identity, remembered)
        if not plan.counters:
            return self._finish(identity, Decision(True, (), plan.tier))
        return plan, plan.consume if consume else plan.peek

    def _conclude(
        self,
        identity: Identity,
        plan: Plan,
        plan_key: object,
        request: BackendRequest,
        result: BackendResult | None,
        consume: bool,
    ) -> Decision | None:
        """The second half: the decision from the backend's answer (``None``: try again, the
        user's stored tier changed), or from the fault policy when there is no answer."""
        if result is None:
            return self._finish(identity, self.guard.degraded(plan, request, self.shadow_all))
        if result.status == TIER_CHANGED and plan.tier_key is not None:
            self.planner.remember_tier(plan.tier_key, result.stored_tier or "")
            self.memo.forget(plan_key)
            return None
        if plan.shadows and consume:
            self.shadow_log.observe(plan_key, plan.statics, plan.shadows, result.values)
        decision = plan.decide(result, "backend")
        if consume and not decision.allowed and self._memo_enabled:
            self.memo.store(plan_key, decision)
        return self._finish(identity, decision)

    def _finish(self, identity: Identity, decision: Decision) -> Decision:
        if decision.allowed:
            outcome = "failed_open" if decision.source == "fail_open" else "allowed"
        else:
            outcome = "failed_closed" if decision.source == "fail_closed" else "limited"
        self.metrics.decision(decision.tier or "other", outcome, decision.source)
        if self._on_decision is not None:
            self._on_decision(identity, decision)
        return decision

    def forget_refusals(self) -> None:
        """Drop the local memo of refusals (done automatically by reset and tier changes)."""
        self.memo.clear()

    def effective_user_tier(self, identity: Identity, stored: str) -> Tier:
        """The tier bounding ``identity`` given its stored tier (``""``: none)."""
        return self.planner.effective_user_tier(identity, stored)
