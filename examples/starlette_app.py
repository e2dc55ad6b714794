"""The same RelayPoint middlewares in a plain Starlette app: no FastAPI anywhere.

Everything is pure ASGI, so the stack is identical to the reference app's:

    SecurityHeaders -> Metrics -> Authentication -> TenantResolution -> EnterpriseRateLimiter
      -> Starlette routes (permission checks with relaypoint_core.rbac, reads through relaypoint_cache)

Tenants and users are held in memory here (no database) to show that each package is usable on
its own: tenancy resolution only needs a :class:`~relaypoint_tenancy.resolution.TenantLookup`,
auth only a :class:`~relaypoint_core.auth.users.UserDirectory`.

Run it with ``uvicorn examples.starlette_app:create_app --factory``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaypoint_cache import Cache
from relaypoint_core.audit import InMemoryAuditLog
from relaypoint_core.auth.asgi import AuthenticationMiddleware
from relaypoint_core.auth.keys import KeyRing
from relaypoint_core.auth.passwords import hash_password
from relaypoint_core.auth.service import AuthService
from relaypoint_core.auth.users import InMemoryUserDirectory, UserRecord
from relaypoint_core.errors import AuthenticationError
from relaypoint_core.http import SecurityHeadersMiddleware
from relaypoint_core.monitoring import PerformanceMonitor
from relaypoint_core.monitoring.asgi import MetricsMiddleware, metrics_app
from relaypoint_core.plan_tiers import StaticPlanTiers
from relaypoint_core.rbac import Permission
from relaypoint_core.request_state import get_scope_principal, get_scope_tenant
from relaypoint_core.tenant_ids import TenantSlug, TenantUUID
from relaypoint_ratelimit import EnterpriseRateLimiter, decision_of
from relaypoint_tenancy import TenantRecord, TenantResolutionMiddleware, TenantResolver

__all__ = ["StaticTenantLookup", "create_app"]

PROBLEM = "application/problem+json"


class StaticTenantLookup:
    """A :class:`~relaypoint_tenancy.resolution.TenantLookup` over a fixed set of tenants."""

    def __init__(self, tenants: Mapping[str, TenantRecord]) -> None:
        self._tenants = dict(tenants)

    async def by_key(self, key: str) -> TenantRecord | None:
        return next((t for t in self._tenants.values() if t.matches(key)), None)

    async def by_domain(self, domain: str) -> TenantRecord | None:
        return None


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def create_app(
    *,
    password: str = "starlette-demo",  # noqa: S107 - demo users of an in-memory example
    monitor: PerformanceMonitor | None = None,
    metrics_registry: Any = None,
) -> Starlette:
    tenants = {
        slug: TenantRecord(TenantUUID(f"t-{slug}"), TenantSlug(slug), plan, "active")
        for slug, plan in (("acme", "PROFESSIONAL"), ("globex", "FREE"))
    }
    password_hash = hash_password(password)
    users = InMemoryUserDirectory(
        UserRecord(f"{role}-{slug}", f"{role}@{slug}.example", password_hash, slug, (role,))
        for slug in tenants
        for role in ("tenant_admin", "viewer")
    )
    audit = InMemoryAuditLog()
    auth = AuthService(
        keys=KeyRing.from_secret(secrets.token_urlsafe(48)), users=users, audit=audit
    )
    cache = Cache("memory://")
    notes: dict[str, list[str]] = {slug: [f"welcome to {slug}"] for slug in tenants}

    async def login(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            email, secret = str(body["email"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            return _problem(422, "send a JSON body with email and password")
        tenant = get_scope_tenant(request.scope)
        try:
            pair = await auth.login(email, secret, tenant_id=tenant.tenant_id if tenant else None)
        except AuthenticationError as exc:
            return _problem(401, str(exc), **{"WWW-Authenticate": "Bearer"})
        return JSONResponse(pair.to_response())

    async def read_notes(request: Request) -> Response:
        principal = get_scope_principal(request.scope)
        tenant = get_scope_tenant(request.scope)
        if principal is None:
            return _problem(401, "a bearer token is required", **{"WWW-Authenticate": "Bearer"})
        if tenant is None:
            return _problem(400, "name a tenant (X-Tenant-ID or the tenant's host)")
        if not auth.checker.check_principal(
            principal, Permission.WORKFLOW_READ, tenant_id=tenant.tenant_id
        ):
            return _problem(403, "permission 'workflow:read' required")
        ran = False

        async def load() -> list[str]:
            nonlocal ran
            ran = True
            return list(notes[tenant.tenant_id])

        items = await cache.get_or_set("notes", load, 60, tenant_id=tenant.tenant_id)
        decision = decision_of(request.scope)
        return JSONResponse(
            {
                "tenant": tenant.tenant_id,
                "user": principal.user_id,
                "notes": items,
                "tier": decision.tier if decision else None,
            },
            headers={"X-Cache": "miss" if ran else "hit"},
        )

    async def add_note(request: Request) -> Response:
        principal = get_scope_principal(request.scope)
        tenant = get_scope_tenant(request.scope)
        if principal is None or tenant is None:
            return _problem(401, "a bearer token for a tenant is required")
        if not auth.checker.check_principal(
            principal, Permission.WORKFLOW_CREATE, tenant_id=tenant.tenant_id
        ):
            return _problem(403, "permission 'workflow:create' required")
        text = (await request.body()).decode("utf-8", "replace")[:200]
        notes[tenant.tenant_id].append(text)
        await cache.delete("notes", tenant_id=tenant.tenant_id)
        return JSONResponse({"added": text}, status_code=201)

    routes = [
        Route("/api/v1/auth/login", login, methods=["POST"]),
        Route("/api/v1/notes", read_notes, methods=["GET"]),
        Route("/api/v1/notes", add_note, methods=["POST"]),
        Route("/metrics", metrics_app(metrics_registry), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.auth = auth
    app.state.audit = audit
    # Innermost first, in the canonical order (metrics -> auth -> limiter -> tenancy): the
    # limiter charges the token's tenant at its plan tier, read from a PlanTierSource.
    app.add_middleware(
        TenantResolutionMiddleware,
        resolver=TenantResolver(StaticTenantLookup(tenants), sources=("header", "token")),
        exempt_paths=("/metrics",),
    )
    plans = StaticPlanTiers({record.slug: record.plan_tier for record in tenants.values()})
    app.add_middleware(EnterpriseRateLimiter, plan_tiers=plans, exempt_paths=("/metrics",))
    app.add_middleware(AuthenticationMiddleware, auth_service=auth)
    app.add_middleware(MetricsMiddleware, monitor=monitor)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
