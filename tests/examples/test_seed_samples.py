"""Every code sample of the seed document that the SDK implements, run as written.

Only the import paths change (``app.core.cache`` -> ``relaypoint_cache``,
``app.middleware.rate_limiter`` -> ``relaypoint_ratelimit``, ``app.core.auth_enterprise`` ->
``relaypoint_core.fastapi``, ``app.models.tenant`` -> ``relaypoint_tenancy``,
``app.core.monitoring`` -> ``relaypoint_core.monitoring``). The names the samples take for
granted (``db_session``, ``db``, ``user_data``, ``fetch_user_from_db``, ``execute_workflow``,
``router``, ``WorkflowCreate``) are given real meanings around each sample. The TypeScript
design-system sample is not part of the SDK. The HTTP, deployment and environment samples run
against the reference app and its deployment files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from tests.conftest import BackendTarget
from tests.examples.conftest import LiveApp

ROOT = Path(__file__).resolve().parents[2]


class WorkflowCreate(BaseModel):
    """The request body the seed's endpoint sample takes for granted."""

    name: str


@pytest.fixture
async def db_session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    """An AsyncSession on a fresh tenancy database (SQLite, shared-table isolation)."""
    from relaypoint_tenancy import TenantManager

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'seed.sqlite3'}")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await TenantManager(session).install()
        yield session
    await engine.dispose()


# --- 1. Multi-tenancy & data isolation ----------------------------------------------------------


async def test_seed_create_tenant(db_session: AsyncSession) -> None:
    from relaypoint_tenancy import PlanTier, TenantManager

    # Create new tenant
    tenant_manager = TenantManager(db_session)
    tenant = await tenant_manager.create_tenant(
        name="Acme Corp",
        slug="acme-corp",
        plan_tier=PlanTier.ENTERPRISE,
        admin_email="admin@acme.com",
        admin_name="John Doe",
    )

    assert tenant.slug == "acme-corp"
    assert tenant.plan_tier is PlanTier.ENTERPRISE
    users = await tenant_manager.list_users("acme-corp")
    assert [(u["email"], u["roles"]) for u in users] == [("admin@acme.com", ["tenant_admin"])]


# --- 2. Authentication & authorization ----------------------------------------------------------


async def test_seed_protect_endpoint_and_check_permissions() -> None:
    from fastapi import APIRouter, Depends, FastAPI

    from relaypoint_core.auth import InMemoryUserDirectory, KeyRing, UserRecord, hash_password
    from relaypoint_core.fastapi import (
        AuthService,
        Permission,
        PermissionChecker,
        RequireAdminAccess,
        RequireWorkflowCreate,
        install_auth,
    )

    router = APIRouter()
    created: list[str] = []

    # Protect endpoint with permission check
    @router.post("/workflows")
    async def create_workflow(
        workflow_data: WorkflowCreate,
        current_user=Depends(RequireWorkflowCreate),  # noqa: B008 - as in the seed
    ):
        # User has workflow:create permission
        created.append(workflow_data.name)

    # Check permissions programmatically
    has_permission = AuthService.validate_permissions(
        user_roles=["manager"], required_permission=Permission.WORKFLOW_CREATE
    )

    assert has_permission is True
    assert not AuthService.validate_permissions(
        user_roles=["viewer"], required_permission=Permission.WORKFLOW_CREATE
    )
    assert PermissionChecker().has_permission(("tenant_admin",), Permission.ADMIN_ACCESS)

    @router.get("/admin")
    async def admin_area(current_user=Depends(RequireAdminAccess)) -> dict[str, str]:  # noqa: B008
        return {"user": current_user.user_id}

    secret_hash = hash_password("pw")
    users = InMemoryUserDirectory(
        [
            UserRecord("u-manager", "manager@acme.example", secret_hash, "acme", ("manager",)),
            UserRecord("u-viewer", "viewer@acme.example", secret_hash, "acme", ("viewer",)),
        ]
    )
    service = AuthService(keys=KeyRing.from_secret(uuid.uuid4().hex * 2), users=users)
    app = FastAPI()
    install_auth(app, service)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seed") as client:
        manager = await service.login("manager@acme.example", "pw", tenant_id="acme")
        viewer = await service.login("viewer@acme.example", "pw", tenant_id="acme")
        ok = await client.post(
            "/workflows",
            json={"name": "flow"},
            headers={"Authorization": f"Bearer {manager.access_token}"},
        )
        denied = await client.post(
            "/workflows",
            json={"name": "nope"},
            headers={"Authorization": f"Bearer {viewer.access_token}"},
        )
        anonymous = await client.post("/workflows", json={"name": "anon"})
        not_admin = await client.get(
            "/admin", headers={"Authorization": f"Bearer {manager.access_token}"}
        )
    assert ok.status_code == 200
    assert created == ["flow"]
    assert denied.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert not_admin.status_code == 403


# --- 3. Rate limiting ---------------------------------------------------------------------------


async def test_seed_rate_limiter(backend: BackendTarget) -> None:
    from fastapi import FastAPI

    from relaypoint_ratelimit import EnterpriseRateLimiter

    app = FastAPI()
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    redis_url = backend.url if backend.is_redis else None

    # Add to FastAPI app
    rate_limiter = EnterpriseRateLimiter(app, redis_url=redis_url, key_prefix=backend.key_prefix)
    await rate_limiter.startup()

    # Set user tier
    await rate_limiter.set_user_tier(user_id, "PROFESSIONAL")

    # Get usage stats
    stats = await rate_limiter.get_usage_stats(user_id)

    try:
        assert stats.tier == "PROFESSIONAL"
        limits = {(w.scope, w.window_seconds): w.limit for w in stats.windows}
        assert limits[("user", 60)] == 1000
        assert limits[("user", 3600)] == 50_000
        assert limits[("user", 86400)] == 500_000
        assert all(w.used == 0 for w in stats.windows)
    finally:
        await rate_limiter.shutdown()


# --- 4. Enterprise caching ----------------------------------------------------------------------


async def test_seed_cache(backend: BackendTarget) -> None:
    from relaypoint_cache import cached, configure, enterprise_cache

    configure(backend.url if backend.is_redis else None, key_prefix=backend.key_prefix)
    calls: list[str] = []
    user_data = {"id": "123", "name": "Ada"}

    class _Query:
        def __init__(self, user_id: str) -> None:
            self.user_id = user_id

        def filter_by(self, id: str) -> _Query:
            return _Query(id)

        async def first(self) -> dict[str, str]:
            calls.append(self.user_id)
            return {"id": self.user_id}

    class _Db:
        def query(self, model: object) -> _Query:
            return _Query("")

    db = _Db()
    User = object()

    async def fetch_user_from_db(user_id: str) -> dict[str, str]:
        calls.append(f"fetch:{user_id}")
        return {"id": user_id, "source": "db"}

    try:
        # Direct cache usage
        await enterprise_cache.set("user:123", user_data, ttl=3600, tenant_id="acme")
        user = await enterprise_cache.get("user:123", tenant_id="acme")
        assert user == user_data
        assert await enterprise_cache.get("user:123", tenant_id="globex") is None

        # Decorator for automatic caching
        @cached(ttl=300, namespace="users")
        async def get_user_by_id(user_id: str, tenant_id: str):
            return await db.query(User).filter_by(id=user_id).first()

        assert await get_user_by_id("7", "acme") == {"id": "7"}
        assert await get_user_by_id("7", "acme") == {"id": "7"}
        assert calls == ["7"]

        # Get-or-set pattern (prevents stampede)
        user_id = "42"
        user = await enterprise_cache.get_or_set(
            key=f"user:{user_id}",
            factory_func=lambda: fetch_user_from_db(user_id),
            ttl=3600,
            tenant_id="acme",
        )
        assert user == {"id": "42", "source": "db"}
        again = await enterprise_cache.get_or_set(
            key=f"user:{user_id}",
            factory_func=lambda: fetch_user_from_db(user_id),
            ttl=3600,
            tenant_id="acme",
        )
        assert again == user
        assert calls.count("fetch:42") == 1

        # Pattern invalidation
        await enterprise_cache.invalidate_pattern("user:*", tenant_id="acme")
        assert await enterprise_cache.get("user:123", tenant_id="acme") is None
        assert await enterprise_cache.get("user:42", tenant_id="acme") is None
    finally:
        await enterprise_cache.close()
        enterprise_cache.use_environment()  # back to the import-time default


# --- 5. Performance monitoring ------------------------------------------------------------------


async def test_seed_performance_monitoring() -> None:
    from relaypoint_core.monitoring import (
        performance_monitor,
        track_api_metrics,
        track_db_query,
        track_workflow_execution,
    )

    executed: list[str] = []

    class _Db:
        def is_connected(self) -> bool:
            return True

    db = _Db()

    async def execute_workflow() -> None:
        executed.append("workflow_456")

    # Decorator for API metrics
    @track_api_metrics("/api/v1/workflows")
    async def list_workflows():
        pass

    # Decorator for DB metrics
    @track_db_query("SELECT", "workflows")
    async def query_workflows():
        pass

    await list_workflows()
    await query_workflows()

    # Context manager for workflow tracking
    async with track_workflow_execution("tenant_123", "workflow_456"):
        await execute_workflow()

    # Health checks
    performance_monitor.register_health_check("database", lambda: db.is_connected())
    try:
        health = await performance_monitor.check_system_health()
    finally:
        performance_monitor.unregister_health_check("database")

    # Performance reports
    report = await performance_monitor.get_performance_report(tenant_id="acme", time_window="1h")

    assert executed == ["workflow_456"]
    assert health.status.value == "healthy"
    assert health.checks["database"].status.value == "healthy"
    assert report is not None


# --- 6. White-labeling & branding ---------------------------------------------------------------


async def test_seed_update_branding(db_session: AsyncSession) -> None:
    from relaypoint_tenancy import PlanTier, TenantManager

    await TenantManager(db_session).create_tenant(
        name="Acme",
        slug="acme",
        plan_tier=PlanTier.PROFESSIONAL,
        admin_email="admin@acme.com",
        admin_name="Admin",
    )

    tenant_manager = TenantManager(db_session)
    await tenant_manager.update_branding(
        tenant_id="acme",
        branding_config={
            "primary_color": "#FF5722",
            "secondary_color": "#00BCD4",
            "logo_url": "https://cdn.acme.com/logo.png",
            "company_name": "Acme Corporation",
            "support_email": "support@acme.com",
        },
    )

    branding = await tenant_manager.get_branding("acme")
    assert branding.primary_color == "#FF5722"
    assert branding.company_name == "Acme Corporation"
    stored = (
        await db_session.execute(text("SELECT branding FROM rp_tenants WHERE slug = 'acme'"))
    ).scalar_one()
    assert "cdn.acme.com" in str(stored)


# --- API documentation: the HTTP exchanges ------------------------------------------------------


def test_seed_http_exchanges(embedded_app: LiveApp) -> None:
    with embedded_app.client() as client:
        # POST /api/v1/auth/login
        login = client.post(
            "/api/v1/auth/login",
            headers={"Content-Type": "application/json"},
            json={"email": "user@acme.example", "password": "relaypoint-demo"},
        )
        assert login.status_code == 200
        body = login.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 1800
        assert body["access_token"].startswith("eyJ")
        auth = {"Authorization": f"Bearer {body['access_token']}"}

        # Protected endpoint
        protected = client.get("/api/v1/workflows", headers=auth)
        assert protected.status_code == 200

        # Multi-tenant request
        tenant = client.get("/api/v1/tenants/acme/workflows", headers=auth)
        assert tenant.status_code == 200

        # Rate limit headers
        assert tenant.headers["X-RateLimit-Limit"] == "1000"
        assert 0 <= int(tenant.headers["X-RateLimit-Remaining"]) < 1000
        assert int(tenant.headers["X-RateLimit-Reset"]) >= 0
        assert tenant.headers["X-RateLimit-Tier"] == "PROFESSIONAL"

        # Prometheus metrics at /metrics
        metrics = client.get("/metrics").text
    for name in (
        "relaypoint_api_request_duration_seconds",
        "relaypoint_db_query_duration_seconds",
        "relaypoint_cache_hits_total",
        "relaypoint_workflows_executed_total",
    ):
        assert name in metrics


# --- Deployment and environment variables -------------------------------------------------------


SEED_ENV = """
# Core
PROJECT_NAME=RelayPoint Enterprise
API_V1_STR=/api/v1
DEBUG=false
ENVIRONMENT=production

# Database
DATABASE_URL=postgresql+asyncpg://user:pass@postgres:5432/relaypoint
REDIS_URL=redis://redis:6379/0

# Security
SECRET_KEY=your-256-bit-secret-key-change-in-production
ALLOWED_HOSTS=relaypoint.ai,*.relaypoint.ai
CORS_ORIGINS=https://app.relaypoint.ai

# Monitoring
SENTRY_DSN=https://...@sentry.io/...
PROMETHEUS_ENABLED=true

# Features
ENABLE_RATE_LIMITING=true
ENABLE_CACHING=true
ENABLE_MULTI_TENANCY=true
"""


def test_seed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from relaypoint_core.config import load_settings
    from relaypoint_core.errors import ConfigurationError

    env = dict(
        line.split("=", 1)
        for line in SEED_ENV.splitlines()
        if line.strip() and not line.startswith("#")
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The seed's SECRET_KEY is a placeholder: production refuses it, naming the variable.
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "k" + uuid.uuid4().hex + uuid.uuid4().hex.upper())
    settings = load_settings()
    assert settings.ALLOWED_HOSTS == ["relaypoint.ai", "*.relaypoint.ai"]
    assert settings.CORS_ORIGINS == ["https://app.relaypoint.ai"]
    assert settings.REDIS_URL == "redis://redis:6379/0"
    assert settings.ENABLE_RATE_LIMITING
    assert settings.ENABLE_CACHING
    assert settings.ENABLE_MULTI_TENANCY


def test_seed_deployment_commands_name_real_objects() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.dev.yml").read_text())
    assert "app" in compose["services"]  # docker-compose -f docker-compose.dev.yml up
    # kubectl scale deployment relaypoint-backend --replicas=5
    # kubectl set image deployment/relaypoint-backend backend=relaypoint:v2.0.0
    deployments = [
        doc
        for path in (ROOT / "deploy" / "k8s").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "Deployment"
    ]
    (deployment,) = deployments
    assert deployment["metadata"]["name"] == "relaypoint-backend"
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["backend"]
    assert re.fullmatch(r"relaypoint:v\d+\.\d+\.\d+", containers[0]["image"])
