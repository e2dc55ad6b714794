"""The getting-started service from public RelayPoint API only: python -m examples.quickstart"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from secrets import token_urlsafe
from typing import Annotated, Any

import uvicorn
from fastapi import Body, Depends, FastAPI, HTTPException
from starlette.routing import Route

from relaypoint_cache import Cache
from relaypoint_core import Principal, load_settings
from relaypoint_core.auth.service import AuthService
from relaypoint_core.fastapi import create_auth_router, install_auth, require
from relaypoint_core.fastapi_problems import install_problem_handlers
from relaypoint_core.monitoring.asgi import MetricsMiddleware, health_app, metrics_app
from relaypoint_core.rbac import Permission, Role
from relaypoint_ratelimit import EnterpriseRateLimiter
from relaypoint_tenancy import Tenancy, TenantResolutionMiddleware

env = os.environ.get
REDIS = env("REDIS_URL") or None  # unset: in-process memory backends
PASSWORD = "relaypoint-demo"  # noqa: S105 - the demo users' password, development only
DEMO = {"acme": ("PROFESSIONAL", [*Role]), "globex": ("FREE", ["tenant_admin", "user", "viewer"])}
tenancy = Tenancy.from_settings()  # DATABASE_URL (a SQLite file by default)
secret = env("SECRET_KEY") or token_urlsafe(48)  # set SECRET_KEY, or tokens die with the process
settings = load_settings(ENVIRONMENT=env("ENVIRONMENT", "development"), SECRET_KEY=secret)
auth = AuthService.from_settings(settings, users=tenancy.user_directory())
cache = Cache(REDIS or "memory://")
workflows: dict[str, dict[str, dict[str, str]]] = {}  # tenant slug -> id -> workflow (demo store)
Reader = Annotated[Principal, Depends(require(Permission.WORKFLOW_READ))]
Writer = Annotated[Principal, Depends(require(Permission.WORKFLOW_CREATE))]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await tenancy.install()  # or: python -m relaypoint_tenancy migrate
    for slug, (plan, roles) in DEMO.items():
        if await tenancy.get_tenant(slug) is None:
            admin = {"admin_email": f"tenant_admin@{slug}.example", "admin_password": PASSWORD}
            await tenancy.create_tenant(
                name=slug, slug=slug, plan_tier=plan, admin_name=slug, **admin
            )
            for role in (str(role) for role in roles if role != "tenant_admin"):
                email = f"{role}@{slug}.example"
                await tenancy.create_user(
                    slug, email=email, name=role, password=PASSWORD, roles=[role]
                )
    yield
    await cache.close()
    await tenancy.dispose()


app = FastAPI(title="RelayPoint quickstart", lifespan=lifespan)
install_problem_handlers(app)  # every RelayPointError -> its own status, as problem+json
app.include_router(create_auth_router(), prefix="/api/v1")  # POST /api/v1/auth/login
app.router.routes += [
    Route("/health/live", health_app(kind="liveness")),
    Route("/health/ready", health_app(kind="readiness")),
    Route("/metrics", metrics_app()),
]
WORKFLOWS = "/api/v1/tenants/{tenant_id}/workflows"  # tenant_id: the tenant's slug
Name = Annotated[str, Body(embed=True, min_length=1, max_length=200)]  # body: {"name": ...}


@app.get(WORKFLOWS)
async def list_workflows(tenant_id: str, user: Reader) -> Any:
    async def load() -> list[dict[str, str]]:  # runs on a cache miss only
        return list(workflows.get(user.tenant_id or "", {}).values())

    return await cache.get_or_set("all", load, 300, tenant_id=user.tenant_id, namespace="wf")


@app.post(WORKFLOWS, status_code=201)
async def create_workflow(tenant_id: str, name: Name, user: Writer) -> dict[str, str]:
    item = {"id": uuid.uuid4().hex, "name": name, "created_by": user.user_id}
    workflows.setdefault(user.tenant_id or "", {})[item["id"]] = item
    await cache.invalidate_namespace("wf", tenant_id=user.tenant_id)
    return item


@app.get(WORKFLOWS + "/{workflow_id}")
async def read_workflow(tenant_id: str, workflow_id: str, user: Reader) -> dict[str, str]:
    if (item := workflows.get(user.tenant_id or "", {}).get(workflow_id)) is None:
        raise HTTPException(404, "no such workflow in this tenant")
    return item


# The canonical middleware order (docs: Middleware order); add_middleware adds innermost first.
domain = env("TENANCY_BASE_DOMAIN", "relaypoint.localhost")
app.add_middleware(TenantResolutionMiddleware, resolver=tenancy.resolver(base_domain=domain))
probes = ("/health/live", "/health/ready", "/metrics")  # never rate limited
tiers = tenancy.plan_tiers()  # the limiter's tier of a verified tenant follows its plan
app.add_middleware(EnterpriseRateLimiter, redis_url=REDIS, plan_tiers=tiers, exempt_paths=probes)
install_auth(app, auth)  # authentication wraps the limiter and the tenancy
app.add_middleware(MetricsMiddleware)

if __name__ == "__main__":
    host, port = env("RELAYPOINT_HOST", "127.0.0.1"), int(env("RELAYPOINT_PORT", "8000"))
    uvicorn.run(app, host=host, port=port)
