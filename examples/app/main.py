"""Application factory of the reference app: every RelayPoint package wired into one FastAPI app.

Request path, outermost first::

    TrustedHost -> SecurityHeaders -> CORS -> GZip -> Metrics (relaypoint_core.monitoring)
      -> Authentication (relaypoint_core.auth) -> EnterpriseRateLimiter (relaypoint_ratelimit)
      -> TenantResolution (relaypoint_tenancy) -> routes (RBAC via relaypoint_core.fastapi,
         workflow reads cached with relaypoint_cache)

This is the SDK's canonical order (docs: "Middleware order"); each RelayPoint middleware refuses
a misordered stack on its first request. Errors of every package are rendered by
``install_problem_handlers``; the app registers none by hand.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from examples.app.allow_header import AllowHeaderMiddleware
from examples.app.docs_ui import DOCS_CSP, install_docs_ui
from examples.app.identity import install_identity
from examples.app.path_params import declare_tenant_path_parameters
from examples.app.problems import problem_responses
from examples.app.realtime import install_realtime
from examples.app.routes_admin import router as admin_router
from examples.app.routes_auth import bearer_scheme, build_auth_routers
from examples.app.routes_pages import health_router, pages_router
from examples.app.routes_platform import router as platform_router
from examples.app.routes_theme import billing_router, theme_router
from examples.app.routes_workflows import build_workflow_router
from examples.app.runtime import Runtime, build_runtime, mount_rate_limiter
from examples.app.seed import DEMO_TENANTS, demo_email, seed_demo
from examples.app.settings import AppConfig, load_app_config
from relaypoint_core import __version__
from relaypoint_core.fastapi import install_auth
from relaypoint_core.fastapi_problems import install_problem_handlers
from relaypoint_core.http import GZipMiddleware, SecurityHeadersMiddleware
from relaypoint_core.monitoring.asgi import MetricsMiddleware, metrics_app
from relaypoint_core.monitoring.probes import ProbeHostExemption
from relaypoint_core.rbac import Role
from relaypoint_tenancy import TenantResolutionMiddleware
from relaypoint_tenancy.resolution import DEFAULT_SOURCES

__all__ = ["create_app"]

logger = logging.getLogger("examples.app")
STATIC = Path(__file__).parent / "static"
RATE_LIMIT_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Tier",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Cache",
]
# Paths that never name a tenant (the dashboard names it in its own path, not the API's).
TENANCY_EXEMPT = (
    "/health",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/dashboard",
    "/static",
    "/favicon.ico",
    "/socket.io",  # the real-time server takes the tenant from the verified token itself
)


def _banner(runtime: Runtime, created: list[str]) -> None:
    config = runtime.config
    lines = ["RelayPoint reference app ready", *(f"  {line}" for line in runtime.describe())]
    if config.demo_seed:
        tenants = ", ".join(f"{t.slug} ({t.plan_tier})" for t in DEMO_TENANTS)
        lines.append(
            f"  demo tenants:  {tenants}{' (created now)' if created else ''}; "
            f"password {config.demo_password!r}"
        )
        lines.append(
            "  demo users:    "
            + ", ".join(demo_email(role, "acme") for role in Role)
            + "; globex: "
            + ", ".join(demo_email(role, "globex") for role in DEMO_TENANTS[1].roles)
        )
        lines.append(
            f"  dashboards:    http://{config.host}:{config.port}/dashboard/acme  "
            f"http://{config.host}:{config.port}/dashboard/globex"
        )
    print("\n".join(lines), flush=True)


def create_app(config: AppConfig | None = None) -> FastAPI:
    config = config or load_app_config()
    settings = config.settings
    runtime = build_runtime(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        created = await seed_demo(runtime, config.demo_password) if config.demo_seed else []
        _banner(runtime, created)
        # Everything built at start-up (routes, models, the OpenAPI document's objects) lives as
        # long as the process: out of the collector's generations, a collection walks only what
        # requests allocate.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title=settings.PROJECT_NAME,
        version=__version__,
        description=(
            "The RelayPoint reference app: multi-tenant workflows behind JWT auth, RBAC, tiered "
            "rate limits, a two-level cache and Prometheus metrics."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from local assets by install_docs_ui below
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)

    api = settings.API_V1_STR
    secured = [Depends(bearer_scheme)]
    # Every API operation documents the problem+json answers the middlewares and handlers give.
    public_errors = problem_responses(400, 401, 403, 404, 422, 429, 503)
    secured_errors = problem_responses(400, 401, 403, 404, 409, 422, 429, 503)
    # The hottest routes first: a request walks the routes in order until one matches, and every
    # route it passes costs a match attempt. Their paths overlap no other route, so the order
    # changes no answer. Each workflow route declares the bearer scheme itself (see SECURED).
    for router in (
        build_workflow_router(tenant_in_path=False),
        build_workflow_router(tenant_in_path=True),
    ):
        app.include_router(router, prefix=api, responses=secured_errors)
    for router in build_auth_routers():
        app.include_router(router, prefix=api, responses=public_errors)
    for router in (admin_router, platform_router):
        app.include_router(router, prefix=api, dependencies=secured, responses=secured_errors)
    install_docs_ui(app, title=settings.PROJECT_NAME)
    app.include_router(theme_router, prefix=api, responses=public_errors)
    app.include_router(billing_router, prefix=api, dependencies=secured, responses=secured_errors)
    install_identity(app, runtime, prefix=api, dependencies=secured, responses=secured_errors)
    declare_tenant_path_parameters(app)
    app.include_router(health_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_realtime(app, runtime)
    if settings.PROMETHEUS_ENABLED:
        app.router.routes.append(
            Route("/metrics", metrics_app(), methods=["GET", "HEAD"], include_in_schema=False)
        )

    # Innermost first: each add_middleware wraps what was added before it.
    # With ENABLE_MULTI_TENANCY=false a request may not choose its tenant (path, header, host):
    # it always works in the tenant of its token.
    resolver = runtime.tenants.resolver(
        sources=DEFAULT_SOURCES if settings.ENABLE_MULTI_TENANCY else ("token",),
        base_domain=config.base_domain,
        path_prefix=f"{api}/tenants/",
        cache_ttl=5.0,
    )
    app.add_middleware(AllowHeaderMiddleware, openapi=app.openapi)
    app.add_middleware(TenantResolutionMiddleware, resolver=resolver, exempt_paths=TENANCY_EXEMPT)
    app.add_middleware(lambda inner: mount_rate_limiter(runtime, inner))
    install_auth(app, runtime.auth)
    if settings.PROMETHEUS_ENABLED:
        app.add_middleware(
            MetricsMiddleware,
            monitor=runtime.monitor,
            # Requests refused before routing (429, tenancy 404/403) keep their route's template.
            route_templates=lambda: list(app.openapi()["paths"]),
        )
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Tenant-ID", "X-API-Key"],
        expose_headers=RATE_LIMIT_HEADERS,
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, path_csp={"/docs": DOCS_CSP, "/redoc": DOCS_CSP})
    # Probes and scrapes address the pod by IP: they skip the host allow-list, nothing else does.
    app.add_middleware(
        ProbeHostExemption,
        guard=lambda inner: TrustedHostMiddleware(inner, allowed_hosts=settings.ALLOWED_HOSTS),
    )
    return app
