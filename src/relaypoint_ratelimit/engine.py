"""The framework-free rate limiter: ``check``, ``peek``, ``reset``, stored tiers, usage stats.

One :meth:`RateLimiter.check` builds the request's counters (the user's tier windows, the
tenant's plan-tier windows and an optional route policy's windows), sends them to the backend as
one atomic call and turns the answer into a :class:`~relaypoint_ratelimit.decision.Decision`.

Around that call sit the fault handling (per-call timeout, circuit breaker, fault policy), a memo
of refusals (a client refused until T is refused locally until T, at no backend cost) and a cache
of the per-identity plan (keys and script arguments), so the hot path builds no strings.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from relaypoint_core.circuit import CircuitBreaker, CircuitState
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.keys import DEFAULT_KEY_PREFIX
from relaypoint_core.tenant_context import current_tenant
from relaypoint_ratelimit.backends import (
    ADMITTED,
    REFUSED,
    TIER_CHANGED,
    BackendRequest,
    BackendResult,
    CounterSpec,
    MemoryBackend,
    RateLimitBackend,
    SettleRequest,
    SettlingBackend,
    create_backend,
)
from relaypoint_ratelimit.deadlines import Deadlines
from relaypoint_ratelimit.decision import Decision, DecisionSource, PolicyScope, PolicySet
from relaypoint_ratelimit.errors import (
    RateLimitBackendError,
    RateLimitConfigurationError,
    RateLimitError,
    RateLimitExceeded,
)
from relaypoint_ratelimit.faults import FaultPolicy, parse_fault_policy
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.metrics import RateLimitMetrics, default_metrics
from relaypoint_ratelimit.policies import DEFAULT_TIERS, RoutePolicy, Tier, TierSet, Window
from relaypoint_ratelimit.reservations import Reservation, Settlement
from relaypoint_ratelimit.shadow import ShadowLog

__all__ = ["RateLimiter", "UsageStats", "WindowUsage"]

logger = logging.getLogger("relaypoint.ratelimit")

_MAX_CACHED_PLANS = 50_000
_MAX_MEMO = 50_000
_MAX_TIER_HINTS = 100_000


@dataclass(frozen=True, slots=True)
class _Counter:
    name: str
    scope: PolicyScope
    tier: str | None
    window: Window
    shadow: bool = False


@dataclass(slots=True)
class _Plan:
    counters: tuple[_Counter, ...]
    consume: BackendRequest
    peek: BackendRequest
    tier: str | None
    tier_key: str | None
    stored: str
    # Per counter, what _decide needs: name, scope, tier, window name, limit, seconds, window_us,
    # bucket_us (flat tuples: the hot path reads them without attribute lookups).
    statics: PolicySet
    # The metrics count of this plan's admissions by the backend (bumped in place).
    admitted: list[int]
    # The limiter's tier-hints version when `stored` was last confirmed current.
    hints_version: int = 0
    # Positions of the shadow counters (evaluated and counted, never refusing).
    shadows: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowUsage:
    """Usage of one window: what ``get_usage_stats`` reports per window."""

    name: str
    scope: PolicyScope
    window_seconds: float
    limit: int
    used: int
    remaining: int
    reset_after: float


@dataclass(frozen=True, slots=True)
class UsageStats:
    """A subject's usage per window, read without consuming anything."""

    user_id: str
    tenant_id: str | None
    tier: str | None
    windows: tuple[WindowUsage, ...]
    degraded: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "tier": self.tier,
            "degraded": self.degraded,
            "windows": [
                {
                    "name": w.name,
                    "scope": w.scope,
                    "window_seconds": w.window_seconds,
                    "limit": w.limit,
                    "used": w.used,
                    "remaining": w.remaining,
                    "reset": w.reset_after,
                }
                for w in self.windows
            ],
        }


class RateLimiter:
    """Tiered sliding-window limits per user, per tenant and per route, on any backend.

    ``backend`` is a URL (``memory://`` by default, ``redis://``, ``rediss://``,
    ``redis+cluster://``) or a :class:`~relaypoint_ratelimit.backends.RateLimitBackend`.
    """

    def __init__(
        self,
        backend: str | RateLimitBackend | None = None,
        *,
        tiers: TierSet = DEFAULT_TIERS,
        default_tier: str = "FREE",
        anonymous_tier: str | None = None,
        default_tenant_tier: str | None = None,
        fault_policy: str | FaultPolicy = FaultPolicy.OPEN,
        timeout: float = 0.1,
        circuit_failure_threshold: int = 3,
        circuit_reset_timeout: float = 2.0,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        clock: Clock = system_clock,
        metrics: RateLimitMetrics | None = None,
        memo_refusals: bool = True,
        on_decision: Callable[[Identity, Decision], None] | None = None,
        shadow: bool | Iterable[str] = False,
    ) -> None:
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
        self._clock = clock
        if backend is None or isinstance(backend, str):
            backend = create_backend(backend, clock=clock, connect_timeout=max(timeout, 0.05))
        if not isinstance(backend, RateLimitBackend):
            raise RateLimitConfigurationError(
                f"backend must be a URL or a RateLimitBackend, not {backend!r}"
            )
        self.backend: RateLimitBackend = backend
        self._remote = backend.remote
        # The memory backend is called synchronously: its apply never awaits anyway.
        self._local = backend if type(backend) is MemoryBackend else None
        self._fallback = (
            MemoryBackend(clock=clock) if self.fault_policy is FaultPolicy.LOCAL else None
        )
        self.keys = RateLimitKeys(key_prefix)
        self._plans: dict[object, _Plan] = {}
        self.metrics = metrics if metrics is not None else default_metrics()
        self.circuit = CircuitBreaker(
            f"ratelimit:{backend.name}",
            failure_threshold=circuit_failure_threshold,
            reset_timeout=circuit_reset_timeout,
            clock=clock,
            on_state_change=self._circuit_changed,
        )
        self._memo_enabled = memo_refusals
        self._memo: dict[object, tuple[float, Decision]] = {}
        # Identity fields -> when a settlement last refunded their counters (stales the memo).
        self._refunds: dict[object, float] = {}
        self._tier_hints: dict[str, str] = {}
        # Bumped when a hint changes: a plan confirmed under the current version is current.
        self._hints_version = 0
        self._on_decision = on_decision
        self._deadlines = Deadlines()
        self._unknown_tiers_logged: set[str] = set()
        self._routes: tuple[RoutePolicy, ...] = ()
        self.shadow_all = shadow is True
        self.shadow_patterns: tuple[str, ...] = (
            () if isinstance(shadow, bool) else tuple(str(p) for p in shadow)
        )
        self.shadow_log = ShadowLog(self.metrics)

    @property
    def metrics(self) -> RateLimitMetrics:
        return self._metrics

    @metrics.setter
    def metrics(self, metrics: RateLimitMetrics) -> None:
        self._metrics = metrics
        self._plans.clear()  # plans hold counts of the previous metrics
        if hasattr(self, "shadow_log"):
            self.shadow_log.metrics = metrics

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
        """Count one request of ``cost`` against every policy that applies, if all admit it."""
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
        """What :meth:`check` would decide, without counting anything."""
        return await self._run(identity, cost, route, include_tiers, consume=False)

    async def enforce(
        self, identity: Identity, *, cost: int = 1, route: RoutePolicy | None = None
    ) -> Decision:
        """:meth:`check`, raising :class:`RateLimitExceeded` when the request is refused."""
        decision = await self.check(identity, cost=cost, route=route)
        if not decision.allowed:
            raise RateLimitExceeded(decision)
        return decision

    # --- reserve, then settle ------------------------------------------------------------------

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
        plan = self._plan(
            identity,
            route,
            include_tiers,
            estimate,
            self._plan_key(identity, route, include_tiers, estimate),
        )
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
            if self._memo:
                if len(self._refunds) >= _MAX_MEMO:
                    self._refunds.clear()
                self._refunds[reservation.identity.fields] = self._clock.monotonic()
            return Settlement(refunded=-delta, clock_us=result.now_us)
        unpaid = delta - result.charged
        if unpaid:
            self.metrics.unpaid(reservation.decision.tier or "other", unpaid)
        return Settlement(charged=result.charged, unpaid=unpaid, clock_us=result.now_us)

    @staticmethod
    def _plan_key(
        identity: Identity, route: RoutePolicy | None, include_tiers: bool, cost: int
    ) -> object:
        # The identity's field tuple alone keys the usual call (hashed and compared in C).
        if route is None and include_tiers and cost == 1:
            return identity.fields
        return (identity.fields, route, include_tiers, cost)

    def _plan(
        self,
        identity: Identity,
        route: RoutePolicy | None,
        include_tiers: bool,
        cost: int,
        plan_key: object,
    ) -> _Plan:
        """The cached plan of ``plan_key``, rebuilt when the user's stored tier has changed."""
        plan = self._plans.get(plan_key)
        if plan is not None and plan.hints_version == self._hints_version:
            return plan
        if plan is None or (
            plan.tier_key is not None and self._tier_hints.get(plan.tier_key, "") != plan.stored
        ):
            tier_key = None if identity.anonymous else self.keys.user_tier(identity)
            stored = self._tier_hints.get(tier_key, "") if tier_key is not None else ""
            plan = self._build_plan(identity, route, include_tiers, cost, tier_key, stored)
            if len(self._plans) >= _MAX_CACHED_PLANS:
                self._plans.clear()
            self._plans[plan_key] = plan
        # A plan without counters never takes the fast path of _check_local (-1 never matches).
        plan.hints_version = self._hints_version if plan.counters else -1
        return plan

    def _check_local(
        self, identity: Identity, cost: int, route: RoutePolicy | None, include_tiers: bool
    ) -> Decision:
        """:meth:`check` on the memory backend, which answers without awaiting: no coroutine,
        no timeout, no circuit (it cannot fail). The usual case, an admission under a current
        plan, is written out here; anything else goes through :meth:`_check_local_general`."""
        if type(cost) is not int or cost < 1:
            raise RateLimitConfigurationError(
                f"request cost must be a positive integer, not {cost!r}"
            )
        # Inlined _plan_key: this is the hot path of every request on the memory backend.
        plan_key: object = (
            identity.fields
            if route is None and include_tiers and cost == 1
            else (identity.fields, route, include_tiers, cost)
        )
        plan = self._plans.get(plan_key)
        memo = self._memo
        if plan is None or plan.hints_version != self._hints_version or (memo and plan_key in memo):
            return self._check_local_general(identity, cost, route, include_tiers, plan_key)
        result = self._local.apply_now(plan.consume)  # type: ignore[union-attr]
        status = result[0]
        if status == ADMITTED:
            decision = Decision(
                True, None, plan.tier, "backend", result[1], None, (plan.statics, result[2])
            )
            plan.admitted[0] += 1
            if plan.shadows:
                self.shadow_log.observe(plan_key, plan.statics, plan.shadows, result[2])
            if self._on_decision is not None:
                self._on_decision(identity, decision)
            return decision
        if status == TIER_CHANGED and plan.tier_key is not None:
            self._remember_tier(plan.tier_key, result.stored_tier or "")
            return self._check_local_general(identity, cost, route, include_tiers, plan_key)
        decision = self._decide(plan, result, "backend", plan_key)
        if not decision.allowed and self._memo_enabled:
            self._memo_store(plan_key, decision)
        return self._finish(identity, decision)

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
            plan = self._plan(identity, route, include_tiers, cost, plan_key)
            if self._memo:
                memo = self._memo_lookup(plan_key)
                if memo is not None:
                    return self._finish(identity, memo)
            if not plan.counters:
                return self._finish(identity, Decision(True, (), plan.tier))
            result = local.apply_now(plan.consume)
            if result.status == TIER_CHANGED and plan.tier_key is not None:
                self._remember_tier(plan.tier_key, result.stored_tier or "")
                self._memo.pop(plan_key, None)
                continue
            decision = self._decide(plan, result, "backend", plan_key)
            if not decision.allowed and self._memo_enabled:
                self._memo_store(plan_key, decision)
            return self._finish(identity, decision)
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
        plan_key = self._plan_key(identity, route, include_tiers, cost)
        for _attempt in range(4):
            plan = self._plan(identity, route, include_tiers, cost, plan_key)
            if consume and self._memo:
                memo = self._memo_lookup(plan_key)
                if memo is not None:
                    return self._finish(identity, memo)
            if not plan.counters:
                return self._finish(identity, Decision(True, (), plan.tier))
            request = plan.consume if consume else plan.peek
            local = self._local
            result = local.apply_now(request) if local is not None else await self._call(request)
            if result is None:
                return self._finish(identity, await self._degraded(plan, request))
            if result.status == TIER_CHANGED and plan.tier_key is not None:
                self._remember_tier(plan.tier_key, result.stored_tier or "")
                self._memo.pop(plan_key, None)
                continue
            decision = self._decide(plan, result, "backend", plan_key if consume else None)
            if consume and not decision.allowed and self._memo_enabled:
                self._memo_store(plan_key, decision)
            return self._finish(identity, decision)
        raise RateLimitError("the user's stored tier kept changing during the check; try again")

    def _finish(self, identity: Identity, decision: Decision) -> Decision:
        if decision.allowed:
            outcome = "failed_open" if decision.source == "fail_open" else "allowed"
        else:
            outcome = "failed_closed" if decision.source == "fail_closed" else "limited"
        self.metrics.decision(decision.tier or "other", outcome, decision.source)
        if self._on_decision is not None:
            self._on_decision(identity, decision)
        return decision

    # --- plans: which counters a request touches ------------------------------------------------

    def _tier_of(self, name: str | None) -> Tier | None:
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
        if identity.anonymous:
            return self.tiers.get(self.anonymous_tier)
        return (
            self._tier_of(stored or None)
            or self._tier_of(identity.user_tier)
            or self.tiers.get(self.default_tier)
        )

    def _build_plan(
        self,
        identity: Identity,
        route: RoutePolicy | None,
        include_tiers: bool,
        cost: int,
        tier_key: str | None,
        stored: str,
    ) -> _Plan:
        counters: list[_Counter] = []
        specs: list[CounterSpec] = []
        user_tier = self.effective_user_tier(identity, stored)
        if include_tiers:
            for window in user_tier.windows:
                name = f"user.{window.name}"
                shadow = self._is_shadow(name, None)
                counters.append(_Counter(name, "user", user_tier.name, window, shadow))
                key = self.keys.user_window(identity, window)
                specs.append(self._spec(key, window, cost, shadow))
            tenant_tier = None
            if identity.tenant_id is not None:
                tenant_tier = self._tier_of(identity.tenant_tier) or self._tier_of(
                    self.default_tenant_tier
                )
            if tenant_tier is not None:
                for window in tenant_tier.windows:
                    name = f"tenant.{window.name}"
                    shadow = self._is_shadow(name, None)
                    counters.append(_Counter(name, "tenant", tenant_tier.name, window, shadow))
                    key = self.keys.tenant_window(identity, window)
                    specs.append(self._spec(key, window, cost, shadow))
        if route is not None:
            for window in route.windows:
                name = f"route.{route.name}.{window.name}"
                shadow = self._is_shadow(name, route)
                counters.append(_Counter(name, "route", None, window, shadow))
                key = self.keys.route_window(identity, route.name, route.per, window)
                specs.append(self._spec(key, window, cost, shadow))
        check_tier = tier_key is not None and include_tiers
        if not check_tier:
            tier_key = None
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
        if not specs:
            empty = BackendRequest((CounterSpec("-", 1, 1, 1, 0),))
            return _Plan((), empty, empty, user_tier.name, None, "", PolicySet(()), [0])
        expected = stored if check_tier else None
        consume = BackendRequest(tuple(specs), True, tier_key, expected)
        peek = BackendRequest(tuple(specs), False, tier_key, expected)
        admitted = self.metrics.decision_cell(user_tier.name or "other", "allowed", "backend")
        shadows = tuple(i for i, c in enumerate(counters) if c.shadow)
        return _Plan(
            tuple(counters),
            consume,
            peek,
            user_tier.name,
            tier_key,
            stored,
            statics,
            admitted,
            shadows=shadows,
        )

    def _is_shadow(self, name: str, route: RoutePolicy | None) -> bool:
        if self.shadow_all or (route is not None and route.shadow):
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.shadow_patterns)

    @staticmethod
    def _spec(key: str, window: Window, cost: int, shadow: bool) -> CounterSpec:
        return CounterSpec(key, window.window_us, window.bucket_us, window.limit, cost, shadow)

    def _remember_tier(self, tier_key: str, tier: str) -> None:
        if self._tier_hints.get(tier_key) == tier:
            return
        if len(self._tier_hints) >= _MAX_TIER_HINTS:
            self._tier_hints.clear()
        self._tier_hints[tier_key] = tier
        self._hints_version += 1

    # --- backend call with timeout, circuit breaker and fault policy ---------------------------

    async def _call(self, request: BackendRequest) -> BackendResult | None:
        backend = self.backend
        if not self._remote:
            return await backend.apply(request)
        circuit = self.circuit
        if not circuit.allow():
            return None
        started = time.perf_counter()
        # One shared timer for every call in flight instead of asyncio.timeout's one per call.
        task = self._deadlines.begin(self.timeout)
        try:
            try:
                result = await backend.apply(request)
            finally:
                timed_out = self._deadlines.end(task)
        except asyncio.CancelledError:
            if not timed_out:
                if circuit.state is not CircuitState.CLOSED:
                    circuit.record_failure()
                raise
            kind = "timeout"
        except TimeoutError:
            kind = "timeout"
        except RateLimitBackendError:
            kind = "unavailable"
        else:
            circuit.record_success()
            self.metrics.latency(backend.name, time.perf_counter() - started)
            return result
        circuit.record_failure()
        self.metrics.backend_error(backend.name, kind)
        return None

    async def _degraded(self, plan: _Plan, request: BackendRequest) -> Decision:
        policy = self.fault_policy
        if policy is FaultPolicy.LOCAL and self._fallback is not None:
            local = replace(request, expected_tier=None)
            result = self._fallback.apply_now(local)
            return self._decide(plan, result, "fallback")
        if policy is FaultPolicy.CLOSED and not self.shadow_all:
            retry = max(1.0, float(self.circuit.reset_timeout))
            return Decision(False, (), plan.tier, "fail_closed", 0, retry)
        return Decision(True, (), plan.tier, "fail_open")

    def _circuit_changed(self, old: CircuitState, new: CircuitState) -> None:
        self.metrics.circuit(self.backend.name, new.value)

    # --- turning a backend answer into a decision ----------------------------------------------

    def _decide(
        self,
        plan: _Plan,
        result: BackendResult,
        source: DecisionSource,
        plan_key: object = None,
    ) -> Decision:
        now = result.now_us
        values = result.values
        if plan.shadows and plan_key is not None:
            self.shadow_log.observe(plan_key, plan.statics, plan.shadows, values)
        if result.status != REFUSED:
            return Decision(True, None, plan.tier, source, now, None, (plan.statics, values))
        longest: float | None = None
        for i, static in enumerate(plan.statics):
            at = values[3 * i + 2]
            if at != 0 and not static[8]:
                retry = float(static[5]) if at < 0 else max(0.0, (at - now) / 1_000_000)
                if longest is None or retry > longest:
                    longest = retry
        return Decision(False, None, plan.tier, source, now, longest, (plan.statics, values))

    # --- refusal memo ----------------------------------------------------------------------------

    def _memo_store(self, plan_key: object, decision: Decision) -> None:
        if decision.retry_after is None or decision.retry_after <= 0:
            return
        if len(self._memo) >= _MAX_MEMO:
            now = self._clock.monotonic()
            self._memo = {k: v for k, v in self._memo.items() if v[0] > now}
            if len(self._memo) >= _MAX_MEMO:
                self._memo.clear()
        self._memo[plan_key] = (self._clock.monotonic(), decision)

    def _memo_lookup(self, plan_key: object) -> Decision | None:
        entry = self._memo.get(plan_key)
        if entry is None:
            return None
        decided_at, decision = entry
        if self._refunds:
            fields = plan_key[0] if isinstance(plan_key[0], tuple) else plan_key  # type: ignore[index]
            refunded_at = self._refunds.get(fields)
            if refunded_at is not None and refunded_at >= decided_at:
                del self._memo[plan_key]  # a refund since may have made room
                return None
        elapsed = self._clock.monotonic() - decided_at
        retry = decision.retry_after or 0.0
        if elapsed >= retry or elapsed < 0:
            del self._memo[plan_key]
            return None
        policies = tuple(
            p._replace(
                reset_after=max(0.0, p.reset_after - elapsed),
                retry_after=None if p.retry_after is None else max(0.0, p.retry_after - elapsed),
            )
            for p in decision.policies
        )
        return decision.replace(
            policies=policies,
            source="memo",
            clock_us=decision.clock_us + int(elapsed * 1_000_000),
            retry_after=retry - elapsed,
        )

    def forget_refusals(self) -> None:
        """Drop the local memo of refusals (done automatically by reset and tier changes)."""
        self._memo.clear()

    # --- stored tiers, usage and resets ----------------------------------------------------------

    def _identity_for(self, user_id: str, tenant_id: str | None) -> Identity:
        return Identity(
            user_key=user_id, tenant_id=tenant_id if tenant_id is not None else current_tenant()
        )

    async def set_user_tier(
        self, user_id: str, tier: str | None, *, tenant_id: str | None = None
    ) -> None:
        """Store ``user_id``'s tier in the backend (every process sees it on its next check).

        ``tenant_id`` defaults to the tenant bound to the current context. ``None`` as the tier
        removes the stored tier (the token's hint or the default tier applies again).
        """
        name = self.tiers.normalise(tier) if tier is not None else None
        identity = self._identity_for(user_id, tenant_id)
        key = self.keys.user_tier(identity)
        await asyncio.wait_for(
            self.backend.set_tier(key, name), timeout=max(self.timeout * 10, 1.0)
        )
        self._remember_tier(key, name or "")
        self._memo.clear()

    async def get_user_tier(self, user_id: str, *, tenant_id: str | None = None) -> str:
        """The tier that bounds ``user_id`` now: stored tier, else the default tier."""
        identity = self._identity_for(user_id, tenant_id)
        key = self.keys.user_tier(identity)
        stored = await asyncio.wait_for(
            self.backend.get_tier(key), timeout=max(self.timeout * 10, 1.0)
        )
        self._remember_tier(key, stored or "")
        return self.effective_user_tier(identity, stored or "").name

    async def get_usage_stats(
        self,
        user_id: str | Identity,
        *,
        tenant_id: str | None = None,
        route: RoutePolicy | None = None,
    ) -> UsageStats:
        """Used / remaining / reset per window for a user (and their tenant), counting nothing."""
        identity = (
            user_id if isinstance(user_id, Identity) else self._identity_for(user_id, tenant_id)
        )
        decision = await self.peek(identity, cost=0, route=route)
        return UsageStats(
            identity.user_key,
            identity.tenant_id,
            decision.tier,
            tuple(
                WindowUsage(
                    p.name, p.scope, p.window_seconds, p.limit, p.used, p.remaining, p.reset_after
                )
                for p in decision.policies
            ),
            decision.degraded,
        )

    async def reset(self, identity: Identity | str, *, tenant_id: str | None = None) -> None:
        """Forget every counter of one user (all tiers' windows and per-user route policies)."""
        if isinstance(identity, str):
            identity = self._identity_for(identity, tenant_id)
        keys = [self.keys.user_window(identity, w) for w in self.tiers.all_windows()]
        keys += self._route_keys(identity, "user")
        await self._delete(keys)

    async def reset_tenant(self, tenant_id: str, routes: Sequence[RoutePolicy] = ()) -> None:
        """Forget the tenant-wide counters of ``tenant_id`` (its plan windows and per-tenant routes)."""
        identity = Identity(user_key="-", tenant_id=tenant_id)
        keys = [self.keys.tenant_window(identity, w) for w in self.tiers.all_windows()]
        keys += [
            self.keys.route_window(identity, r.name, "tenant", w)
            for r in routes
            if r.per == "tenant"
            for w in r.windows
        ]
        await self._delete(keys)

    def register_routes(self, routes: Sequence[RoutePolicy]) -> None:
        """Tell :meth:`reset` about route policies whose per-user counters it must clear too."""
        self._routes = tuple(dict.fromkeys((*self._routes, *routes)))

    def _route_keys(self, identity: Identity, per: str) -> list[str]:
        return [
            self.keys.route_window(identity, r.name, per, w)
            for r in self._routes
            if r.per == per
            for w in r.windows
        ]

    async def _delete(self, keys: list[str]) -> None:
        await asyncio.wait_for(self.backend.delete(keys), timeout=max(self.timeout * 10, 1.0))
        if self._fallback is not None:
            await self._fallback.delete(keys)
        self._memo.clear()

    # --- introspection ------------------------------------------------------------------------------

    def tier(self, name: str) -> Tier:
        return self.tiers.get(name)

    def upgrade_for(self, tier: str | None) -> Tier | None:
        """The tier one step above ``tier`` (for upgrade prompts), ``None`` at the top."""
        if tier is None or tier not in self.tiers:
            return None
        return self.tiers.next_above(tier)
