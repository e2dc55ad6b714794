"""``EnterpriseRateLimiter``: pure ASGI middleware around the framework-free ``RateLimiter``.

HTTP requests are resolved to an ``Identity``, checked in one backend call (user tier + tenant
plan tier + the first matching route policy) and either passed on with rate-limit headers added to
the response (not to a 3xx), or answered with 429 (``application/problem+json``) or, under the
fail-closed policy while the backend is down, 503. A route policy with ``settle=True`` reserves
its cost before the handler and settles what the handler reported with ``report_cost`` after it;
concurrency policies hold a lease while the handler runs. ``websocket`` and ``lifespan`` scopes,
exempt paths and requests the resolver declines pass through untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import CoroutineType
from typing import Unpack

from relaypoint_core.asgi_types import ASGIApp, Message, Receive, Scope, Send
from relaypoint_core.plan_tiers import PlanTierSource
from relaypoint_core.stack import LayerGuard
from relaypoint_ratelimit.backends import RateLimitBackend
from relaypoint_ratelimit.concurrency import ConcurrencyLimiter, ConcurrencyPolicy, Lease
from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.engine import RateLimiter, UsageStats
from relaypoint_ratelimit.errors import RateLimitBackendError, RateLimitConfigurationError
from relaypoint_ratelimit.faults import FaultPolicy
from relaypoint_ratelimit.headers import (
    HEADER_SYNTAXES,
    PROBLEM_CONTENT_TYPE,
    HeaderSyntax,
    problem_body,
    rate_limit_headers,
    retry_after_seconds,
)
from relaypoint_ratelimit.identity import (
    Identity,
    IdentityResolver,
    ScopeIdentityResolver,
    VerifiedIdentityResolver,
)
from relaypoint_ratelimit.options import LimiterKeywords, LimiterOptions
from relaypoint_ratelimit.policies import RoutePolicy

__all__ = ["EnterpriseRateLimiter", "decision_of", "report_cost"]


DECISION_STATE_KEY = "relaypoint.ratelimit.decision"
COST_STATE_KEY = "relaypoint.ratelimit.cost"


def report_cost(scope: Scope, units: int) -> None:
    """Tell the middleware what the request really cost (for a route policy with ``settle``).

    Args:
        scope: The request's ASGI scope (``request.scope`` in FastAPI and Starlette).
        units: The actual cost, replacing the route's estimate once the response is sent.

    Raises:
        RateLimitConfigurationError: ``units`` is not a non-negative integer.
    """
    if type(units) is not int or units < 0:
        raise RateLimitConfigurationError(f"a cost must be a non-negative integer, not {units!r}")
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state[COST_STATE_KEY] = units


class EnterpriseRateLimiter:
    """Tiered rate limiting for any ASGI app (FastAPI, Starlette, ...).

    ``EnterpriseRateLimiter(app)`` limits on the in-process memory backend; pass ``redis_url``
    (``redis://``, ``rediss://``, ``redis+cluster://``) to share limits between processes, or a
    ready ``RateLimiter`` as ``limiter``. The limiter's own options (tiers, fault policy,
    timeout, key prefix, clock, metrics, shadow, ...) are `LimiterOptions`: pass one as
    ``options`` or its fields as keywords; they are declared once, there. Works both as ``app = EnterpriseRateLimiter(app, ...)``
    and as ``app.add_middleware(EnterpriseRateLimiter, ...)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        redis_url: str | None = None,
        *,
        limiter: RateLimiter | None = None,
        backend: str | RateLimitBackend | None = None,
        options: LimiterOptions | None = None,
        route_policies: Sequence[RoutePolicy] = (),
        identity_resolver: IdentityResolver | None = None,
        plan_tiers: PlanTierSource | None = None,
        trusted_proxies: Iterable[str] = (),
        cost: Callable[[Scope], int] | None = None,
        exempt_paths: Iterable[str] = (),
        legacy_headers: bool = True,
        draft_headers: bool = True,
        header_syntax: HeaderSyntax = "draft-11",
        concurrency_policies: Sequence[ConcurrencyPolicy] = (),
        enabled: bool = True,
        **limiter_options: Unpack[LimiterKeywords],
    ) -> None:
        self.app = app
        if limiter is not None and (
            redis_url is not None or backend is not None or options is not None or limiter_options
        ):
            raise RateLimitConfigurationError(
                "pass either limiter= or redis_url=/backend= with the limiter's options, not both"
            )
        if redis_url is not None and backend is not None:
            raise RateLimitConfigurationError("pass either redis_url= or backend=, not both")
        self.limiter = limiter or RateLimiter(
            backend if backend is not None else redis_url, options=options, **limiter_options
        )
        if header_syntax not in HEADER_SYNTAXES:
            raise RateLimitConfigurationError(
                f"header_syntax must be one of {', '.join(HEADER_SYNTAXES)}, not {header_syntax!r}"
            )
        self.header_syntax = header_syntax
        self.concurrency_policies = tuple(concurrency_policies)
        self.leases = ConcurrencyLimiter(
            self.limiter.backend,
            keys=self.limiter.keys,
            metrics=self.limiter.metrics,
            timeout=max(self.limiter.timeout * 10, 1.0),
        )
        self.route_policies = tuple(route_policies)
        if any(not r.path_prefixes for r in self.route_policies):
            raise RateLimitConfigurationError(
                "route policies given to the middleware need path_prefixes; attach prefix-less "
                "policies to routes with relaypoint_ratelimit.fastapi.rate_limit"
            )
        self.limiter.register_routes(self.route_policies)
        if identity_resolver is not None and plan_tiers is not None:
            raise RateLimitConfigurationError(
                "pass either identity_resolver= or plan_tiers=, not both"
            )
        # plan_tiers: the tier of a verified tenant follows its plan (see VerifiedIdentityResolver).
        self.resolver: IdentityResolver = identity_resolver or (
            VerifiedIdentityResolver(plan_tiers=plan_tiers, trusted_proxies=trusted_proxies)
            if plan_tiers is not None
            else ScopeIdentityResolver(trusted_proxies=trusted_proxies)
        )
        self.cost = cost
        self.exempt_paths = frozenset(exempt_paths)
        self.legacy_headers = legacy_headers
        self.draft_headers = draft_headers
        self.enabled = enabled
        self._order = LayerGuard("rate_limit")

    # --- the seed's API ---------------------------------------------------------------------------

    async def startup(self) -> None:
        """Connect to the backend and load the script (also done lazily by the first request)."""
        await self.limiter.startup()

    async def shutdown(self) -> None:
        await self.limiter.aclose()

    async def set_user_tier(
        self, user_id: str, tier: str | None, *, tenant_id: str | None = None
    ) -> None:
        await self.limiter.set_user_tier(user_id, tier, tenant_id=tenant_id)

    async def get_user_tier(self, user_id: str, *, tenant_id: str | None = None) -> str:
        return await self.limiter.get_user_tier(user_id, tenant_id=tenant_id)

    async def get_usage_stats(self, user_id: str, *, tenant_id: str | None = None) -> UsageStats:
        return await self.limiter.get_usage_stats(user_id, tenant_id=tenant_id)

    async def reset(self, user_id: str | Identity, *, tenant_id: str | None = None) -> None:
        await self.limiter.reset(user_id, tenant_id=tenant_id)

    # --- ASGI ---------------------------------------------------------------------------------------

    @staticmethod
    async def _identity(result: Identity | Awaitable[Identity | None]) -> Identity | None:
        """The resolver's answer, awaited when the resolver is asynchronous."""
        if inspect.isawaitable(result):
            return await result
        return result

    def _route(self, scope: Scope) -> RoutePolicy | None:
        if not self.route_policies:
            return None
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        for route in self.route_policies:
            if route.matches(method, path):
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._order.checked and scope["type"] == "http":
            self._order(scope)
        if (
            scope["type"] != "http"
            or not self.enabled
            or (self.exempt_paths and scope.get("path") in self.exempt_paths)
        ):
            await self.app(scope, receive, send)
            return
        identity = self.resolver(scope)
        if identity is not None and type(identity) is not Identity:
            # A coroutine (an async resolver) is awaited here, not through a helper coroutine.
            identity = (
                await identity
                if type(identity) is CoroutineType
                else await self._identity(identity)
            )
        if identity is None:
            await self.app(scope, receive, send)
            return
        if self.route_policies:
            route = self._route(scope)
            cost = (
                route.cost
                if route is not None
                else (self.cost(scope) if self.cost is not None else 1)
            )
        else:
            route = None
            cost = self.cost(scope) if self.cost is not None else 1
        limiter = self.limiter
        if route is not None and route.settle:
            await self._reserved(identity, route, cost, scope, receive, send)
            return
        # The memory backend answers synchronously: no coroutine on every request.
        decision = limiter.check_now(identity, cost=cost, route=route)
        if decision is None:
            decision = await limiter.check(identity, cost=cost, route=route)
        headers = self._record(decision, scope)
        if headers is None:
            await self._refuse(decision, scope, send)
            return
        # _handle written out: one coroutine frame for the usual admitted request.
        if self.concurrency_policies:
            await self._with_leases(identity, headers, scope, receive, send)
        elif headers:
            await self.app(scope, receive, _with_headers(send, headers))
        else:
            await self.app(scope, receive, send)

    def _record(self, decision: Decision, scope: Scope) -> list[tuple[bytes, bytes]] | None:
        """Record ``decision`` in the request state; ``None`` if it refuses the request (the
        caller answers it), else the rate-limit headers the response carries."""
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state[DECISION_STATE_KEY] = decision
        if not decision.allowed:
            return None
        return rate_limit_headers(
            decision,
            legacy=self.legacy_headers,
            draft=self.draft_headers,
            syntax=self.header_syntax,
        )

    async def _handle(
        self,
        identity: Identity,
        headers: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if self.concurrency_policies:
            await self._with_leases(identity, headers, scope, receive, send)
        else:
            await self._respond(headers, scope, receive, send)

    async def _respond(
        self, headers: list[tuple[bytes, bytes]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        await self.app(scope, receive, _with_headers(send, headers) if headers else send)

    async def _reserved(
        self,
        identity: Identity,
        route: RoutePolicy,
        estimate: int,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Reserve the route's estimate, run the handler, settle the cost it reported."""
        reservation = await self.limiter.reserve(identity, estimate, route=route)
        headers = self._record(reservation.decision, scope)
        if headers is None:
            await self._refuse(reservation.decision, scope, send)
            return
        state = scope["state"]
        try:
            await self._handle(identity, headers, scope, receive, send)
        finally:
            # Read the scope again: a framework may have replaced its state mapping meanwhile.
            actual = (scope.get("state") or state).get(COST_STATE_KEY, estimate)
            await self.limiter.settle(reservation, actual)

    async def _with_leases(
        self,
        identity: Identity,
        headers: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Run the handler holding one lease of every matching concurrency policy."""
        method, path = scope.get("method", "GET"), scope.get("path", "")
        held: list[Lease] = []
        try:
            for policy in self.concurrency_policies:
                if not policy.matches(method, path):
                    continue
                try:
                    lease = await self.leases.acquire(identity, policy)
                except RateLimitBackendError:
                    if self.limiter.fault_policy is FaultPolicy.CLOSED:
                        retry = max(1.0, float(self.limiter.circuit.reset_timeout))
                        closed = Decision(False, (), None, "fail_closed", 0, retry)
                        await self._refuse(closed, scope, send)
                        return
                    continue  # fail open (or local): the lease is skipped, the request runs
                if not lease.granted:
                    await self._refuse(lease.decision(), scope, send, fields=False)
                    return
                held.append(lease)
            async with self.leases.renewing(held):
                await self._respond(headers, scope, receive, send)
        finally:
            await self.leases.release_all(held)

    async def _refuse(
        self, decision: Decision, scope: Scope, send: Send, *, fields: bool = True
    ) -> None:
        body = problem_body(decision, self.limiter.tiers, instance=scope.get("path"))
        # A concurrency refusal has no window to describe: Retry-After and the body only.
        headers = (
            rate_limit_headers(
                decision,
                legacy=self.legacy_headers,
                draft=self.draft_headers,
                syntax=self.header_syntax,
            )
            if fields
            else []
        )
        if not any(name == b"retry-after" for name, _ in headers):
            headers.append((b"retry-after", str(retry_after_seconds(decision)).encode()))
        headers += [
            (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send(
            {"type": "http.response.start", "status": decision.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send``, adding ``headers`` to the response start (not to a 3xx)."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start" and not 300 <= message["status"] < 400:
            message = dict(message)
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return send_with_headers


def decision_of(scope: Scope) -> Decision | None:
    """The decision the middleware made for this request (for handlers that want to show it)."""
    state = scope.get("state") or {}
    value = state.get(DECISION_STATE_KEY)
    return value if isinstance(value, Decision) else None
