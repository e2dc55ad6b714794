"""FastAPI dependencies for per-route limits (the only module of this package importing FastAPI).

::

    export_limit = rate_limit(limiter, RoutePolicy("export", "10/minute", cost=5))

    @app.post("/export", dependencies=[Depends(export_limit)])
    async def export(): ...

The dependency checks only the route's own windows (the middleware already counted the user's and
tenant's tiers); to count everything in one round trip, give the middleware the policy with
``path_prefixes`` instead. Refusals raise ``RateLimitHTTPException``; install
``install_problem_handler`` to render it as ``application/problem+json``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from relaypoint_core.optional import require_module

require_module("fastapi", extra="fastapi", feature="relaypoint_ratelimit.fastapi")

from fastapi import FastAPI, HTTPException, Request, Response  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

from relaypoint_ratelimit.asgi import EnterpriseRateLimiter  # noqa: E402
from relaypoint_ratelimit.decision import Decision  # noqa: E402
from relaypoint_ratelimit.engine import RateLimiter  # noqa: E402
from relaypoint_ratelimit.headers import (  # noqa: E402
    PROBLEM_CONTENT_TYPE,
    problem_body,
    rate_limit_headers,
)
from relaypoint_ratelimit.identity import Identity, ScopeIdentityResolver  # noqa: E402
from relaypoint_ratelimit.policies import RoutePolicy  # noqa: E402

__all__ = ["RateLimitHTTPException", "install_problem_handler", "rate_limit"]


class RateLimitHTTPException(HTTPException):
    """A 429 (or fail-closed 503) from a route limit; ``problem`` is the RFC 9457 body."""

    def __init__(
        self, decision: Decision, problem: dict[str, Any], headers: dict[str, str]
    ) -> None:
        super().__init__(status_code=decision.status_code, detail=problem, headers=headers)
        self.decision = decision
        self.problem = problem


def rate_limit(
    limiter: RateLimiter | EnterpriseRateLimiter,
    policy: RoutePolicy | str,
    *,
    name: str | None = None,
    per: str = "user",
    cost: int | None = None,
    identity_resolver: Callable[[Any], Identity | None] | None = None,
) -> Callable[[Request, Response], Awaitable[Decision | None]]:
    """A dependency enforcing ``policy`` (a ``RoutePolicy`` or ``"10/minute; 100/hour"``)."""
    engine = limiter.limiter if isinstance(limiter, EnterpriseRateLimiter) else limiter
    if isinstance(policy, str):
        policy = RoutePolicy(name or "route", policy, per=per, cost=cost or 1)  # type: ignore[arg-type]
    route = policy
    engine.register_routes([route])
    resolve = identity_resolver or ScopeIdentityResolver()
    request_cost = cost if cost is not None else route.cost

    async def dependency(request: Request, response: Response) -> Decision | None:
        identity = resolve(request.scope)
        if identity is None:
            return None
        decision = await engine.check(identity, cost=request_cost, route=route, include_tiers=False)
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in rate_limit_headers(decision, legacy=False)
        }
        if not decision.allowed:
            problem = json.loads(problem_body(decision, engine.tiers, instance=request.url.path))
            raise RateLimitHTTPException(decision, problem, headers)
        for header, value in headers.items():
            response.headers.append(header, value)
        return decision

    return dependency


def install_problem_handler(app: FastAPI) -> None:
    """Render ``RateLimitHTTPException`` as ``application/problem+json`` with its headers."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimitHTTPException)
        return JSONResponse(
            exc.problem,
            status_code=exc.status_code,
            headers=exc.headers,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    app.add_exception_handler(RateLimitHTTPException, handler)
