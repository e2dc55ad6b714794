"""The getting-started service from public RelayPoint API only: python -m examples.quickstart"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from secrets import token_urlsafe
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.routing import Route

from relaypoint_cache import Cache
from relaypoint_core import Principal, get_scope_tenant, load_settings
from relaypoint_core.auth.service import AuthService
from relaypoint_core.fastapi import create_auth_router, install_auth, require
from relaypoint_core.fastapi_problems import install_problem_handlers
from relaypoint_core.monitoring.asgi import MetricsMiddleware, health_app, metrics_app
from relaypoint_core.rbac import Permission, Role
from relaypoint_ratelimit import EnterpriseRateLimiter
from relaypoint_tenancy import Tenancy, TenantResolutionMiddleware

DEMO_PASSWORD = "relaypoint-demo"  # noqa: S105 - development only
DEMO = {"acme": ("PROFESSIONAL", [*Role]), "globex": ("FREE", [Role.USER, Role.VIEWER])}
REDIS_URL = os.environ.get("REDIS_URL") or None
tenancy = Tenancy.from_settings()  # DATABASE_URL; a SQLite file by default
# Development defaults: set ENVIRONMENT=production and SECRET_KEY for anything real.
env = os.environ.get
settings = load_settings(
    ENVIRONMENT=env("ENVIRONMENT", "development"), SECRET_KEY=env("SECRET_KEY") or token_urlsafe(48)
)
auth = AuthService.from_settings(settings, users=tenancy.user_directory())
cache = Cache(REDIS_URL or "memory://")
workflows: dict[str, dict[str, dict[str, str]]] = {}  # tenant slug -> id -> workflow
Reader = Annotated[Principal, Depends(require(Permission.WORKFLOW_READ))]
Writer = Annotated[Principal, Depends(require(Permission.WORKFLOW_CREATE))]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await tenancy.install()
    for slug, (plan, roles) in DEMO.items():
        if await tenancy.get_tenant(slug) is None:
            admin = f"{Role.TENANT_ADMIN}@{slug}.example"
            await tenancy.create_tenant(
                name=slug, slug=slug, plan_tier=plan, admin_email=admin, admin_name=slug,
                admin_password=DEMO_PASSWORD,
            )  # fmt: skip
            for role in (r for r in roles if r is not Role.TENANT_ADMIN):
                email, name = f"{role}@{slug}.example", str(role)
                await tenancy.create_user(
                    slug, email=email, name=name, password=DEMO_PASSWORD, roles=[role]
                )
    yield
    await cache.close()
    await auth.aclose()
    await tenancy.dispose()


app = FastAPI(title="RelayPoint quickstart", lifespan=lifespan)
install_problem_handlers(app)  # every RelayPointError -> its status, as problem+json
app.include_router(create_auth_router(), prefix="/api/v1")  # POST /api/v1/auth/login
app.router.routes += [
    Route("/health/live", health_app(kind="liveness")),
    Route("/health/ready", health_app(kind="readiness")),
    Route("/metrics", metrics_app()),
]


class WorkflowIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def tenant_of(request: Request) -> dict[str, dict[str, str]]:
    return workflows.setdefault(get_scope_tenant(request.scope).tenant_id, {})  # type: ignore[union-attr]


@app.get("/api/v1/tenants/{tenant_id}/workflows")
async def list_workflows(tenant_id: str, request: Request, user: Reader) -> Any:
    async def load() -> list[dict[str, str]]:
        return list(tenant_of(request).values())

    return await cache.get_or_set("all", load, 300, tenant_id=user.tenant_id, namespace="wf")


@app.post("/api/v1/tenants/{tenant_id}/workflows", status_code=201)
async def create_workflow(body: WorkflowIn, request: Request, user: Writer) -> dict[str, str]:
    item = {"id": str(uuid.uuid4()), "name": body.name, "created_by": user.user_id}
    tenant_of(request)[item["id"]] = item
    await cache.invalidate_namespace("wf", tenant_id=user.tenant_id)
    return item


@app.get("/api/v1/tenants/{tenant_id}/workflows/{workflow_id}")
async def read_workflow(workflow_id: str, request: Request, user: Reader) -> dict[str, str]:
    if (item := tenant_of(request).get(workflow_id)) is None:
        raise HTTPException(404, "no such workflow in this tenant")
    return item


# The canonical middleware order (docs: Middleware order); add_middleware adds innermost first.
domain = env("TENANCY_BASE_DOMAIN", "relaypoint.localhost")
app.add_middleware(
    TenantResolutionMiddleware,
    resolver=tenancy.resolver(base_domain=domain),
    exempt_paths=("/health", "/metrics", "/docs", "/openapi.json"),
)
probes = ("/health/live", "/health/ready", "/metrics")
app.add_middleware(
    EnterpriseRateLimiter, redis_url=REDIS_URL, plan_tiers=tenancy.plan_tiers(), exempt_paths=probes
)
install_auth(app, auth)  # authentication wraps the limiter and tenancy
app.add_middleware(MetricsMiddleware)

if __name__ == "__main__":
    uvicorn.run(
        app, host=env("RELAYPOINT_HOST", "127.0.0.1"), port=int(env("RELAYPOINT_PORT", "8000"))
    )
