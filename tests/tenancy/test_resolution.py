"""Tenant resolution middleware: every source, every error case, caching, context binding."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.fastapi import install_problem_handler
from relaypoint_core.request_state import (
    Principal,
    ResolvedTenant,
    get_scope_tenant,
    set_scope_principal,
)
from relaypoint_core.tenant_context import current_tenant
from relaypoint_core.tenant_ids import TenantSlug, TenantUUID
from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import PlanTier, TenancyConfigurationError, TenantInfo
from relaypoint_tenancy.asgi import TenantResolutionMiddleware
from relaypoint_tenancy.fastapi import CurrentTenant, current_tenant_info, tenant_session
from relaypoint_tenancy.models import User
from relaypoint_tenancy.resolution import SqlTenantLookup, TenantRecord, TenantResolver
from relaypoint_tenancy.service import Tenancy

Scope = MutableMapping[str, Any]


async def downstream(scope: Scope, receive: Any, send: Any) -> None:
    """The application: reports what the middleware bound."""
    resolved = get_scope_tenant(scope)
    body = json.dumps(
        {
            "context": current_tenant(),
            "tenant": resolved.tenant_id if resolved else None,
            "plan_tier": resolved.plan_tier if resolved else None,
            "status": resolved.status if resolved else None,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenTenant:
    """Stands where the auth middleware runs: leaves a principal for ``X-Test-Token-Tenant``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        for key, value in scope.get("headers", []):
            if key == b"x-test-token-tenant":
                set_scope_principal(scope, Principal(user_id="u1", tenant_id=value.decode()))
        await self.app(scope, receive, send)


class CountingLookup(SqlTenantLookup):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls = 0

    async def by_key(self, key: str) -> TenantRecord | None:
        self.calls += 1
        return await super().by_key(key)

    async def by_domain(self, domain: str) -> TenantRecord | None:
        self.calls += 1
        return await super().by_domain(domain)


@pytest.fixture
async def world(sqlite_tenancy: Tenancy) -> AsyncIterator[Tenancy]:
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Acme",
            slug="acme",
            plan_tier=PlanTier.ENTERPRISE,
            admin_email="a@acme.com",
            admin_name="A",
        )
        await manager.create_tenant(
            name="Beta", slug="beta", admin_email="b@beta.com", admin_name="B"
        )
        await manager.create_tenant(
            name="Gone", slug="frozen", admin_email="f@f.com", admin_name="F"
        )
        await manager.suspend_tenant("frozen")
        domain = await manager.add_domain("acme", "app.acme.com")
        await manager.verify_domain("acme", "app.acme.com", token=domain.verification_token)
        await manager.add_domain("beta", "unverified.beta.com")
    return sqlite_tenancy


def make_client(
    tenancy: Tenancy, clock: FakeClock, *, lookup: CountingLookup | None = None, **options: Any
) -> tuple[httpx.AsyncClient, CountingLookup]:
    lookup = lookup or CountingLookup(tenancy.engine)
    required = options.pop("required", False)
    options.setdefault("base_domain", "relaypoint.ai")
    resolver = TenantResolver(lookup, clock=clock, cache_ttl=30, negative_ttl=5, **options)
    app = TokenTenant(TenantResolutionMiddleware(downstream, resolver=resolver, required=required))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.example.org"
    )
    return client, lookup


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/api/v1/tenants/acme/workflows", ()),
        ("/workflows", (("X-Tenant-ID", "acme"),)),
        ("http://acme.relaypoint.ai/workflows", ()),
        ("http://app.acme.com/workflows", ()),
        ("/workflows", (("X-Test-Token-Tenant", "acme"),)),
    ],
    ids=["path", "header", "subdomain", "custom-domain", "token"],
)
async def test_each_source_resolves_and_binds_the_tenant(
    world: Tenancy, fake_clock: FakeClock, url: str, headers: tuple[tuple[str, str], ...]
) -> None:
    client, _ = make_client(world, fake_clock)
    async with client:
        response = await client.get(url, headers=dict(headers))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "context": "acme",
        "tenant": "acme",
        "plan_tier": "ENTERPRISE",
        "status": "trial",
    }
    assert current_tenant() is None  # reset after the request


async def test_tenant_id_works_as_well_as_slug(world: Tenancy, fake_clock: FakeClock) -> None:
    async with world.manager() as manager:
        acme = await manager.get_tenant("acme")
    client, _ = make_client(world, fake_clock)
    async with client:
        response = await client.get(
            f"/api/v1/tenants/{acme.id}/x", headers={"X-Test-Token-Tenant": "acme"}
        )
    assert response.json()["tenant"] == "acme"


@pytest.mark.parametrize(
    ("url", "headers", "status", "title"),
    [
        ("/x", (("X-Tenant-ID", "nope"),), 404, "Tenant not found"),
        ("/api/v1/tenants/nope/x", (), 404, "Tenant not found"),
        ("http://nope.relaypoint.ai/x", (), 404, "Tenant not found"),
        ("/x", (("X-Tenant-ID", "acme'; --"),), 404, "Tenant not found"),
        (
            "/x",
            (("X-Tenant-ID", "acme"), ("X-Test-Token-Tenant", "beta")),
            403,
            "Token not valid for this tenant",
        ),
        ("/x", (("X-Tenant-ID", "frozen"),), 403, "Tenant suspended"),
        ("/x", (("X-Test-Token-Tenant", "frozen"),), 403, "Tenant suspended"),
    ],
    ids=[
        "header-unknown",
        "path-unknown",
        "subdomain-unknown",
        "hostile",
        "token-mismatch",
        "suspended",
        "suspended-token",
    ],
)
async def test_errors_are_problem_json(
    world: Tenancy,
    fake_clock: FakeClock,
    url: str,
    headers: tuple[tuple[str, str], ...],
    status: int,
    title: str,
) -> None:
    client, _ = make_client(world, fake_clock)
    async with client:
        response = await client.get(url, headers=dict(headers))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == title
    assert body["status"] == status
    if title == "Tenant suspended":
        assert "suspended" in body["detail"]


async def test_unverified_custom_domain_and_plain_hosts_name_no_tenant(
    world: Tenancy, fake_clock: FakeClock
) -> None:
    client, _ = make_client(world, fake_clock)
    async with client:
        for url in (
            "http://unverified.beta.com/x",
            "http://localhost/x",
            "http://www.relaypoint.ai/x",
        ):
            response = await client.get(url)
            assert response.status_code == 200
            assert response.json()["tenant"] is None
    required, _ = make_client(world, fake_clock, required=True)
    async with required:
        response = await required.get("http://unverified.beta.com/x")
        assert response.status_code == 400
        assert response.json()["title"] == "Tenant required"
        assert (await required.get("/health")).status_code == 200  # exempt


async def test_configured_order_decides(world: Tenancy, fake_clock: FakeClock) -> None:
    headers = {"X-Tenant-ID": "beta"}
    path_first, _ = make_client(world, fake_clock, sources=("path", "header"))
    header_first, _ = make_client(world, fake_clock, sources=("header", "path"))
    async with path_first, header_first:
        assert (await path_first.get("/api/v1/tenants/acme/x", headers=headers)).json()[
            "tenant"
        ] == "acme"
        assert (await header_first.get("/api/v1/tenants/acme/x", headers=headers)).json()[
            "tenant"
        ] == "beta"


async def test_results_are_cached_for_the_ttl(world: Tenancy, fake_clock: FakeClock) -> None:
    client, lookup = make_client(world, fake_clock)
    async with client:
        for _ in range(20):
            assert (await client.get("/x", headers={"X-Tenant-ID": "acme"})).status_code == 200
        assert lookup.calls == 1
        for _ in range(5):
            assert (await client.get("/x", headers={"X-Tenant-ID": "ghost"})).status_code == 404
        assert lookup.calls == 2  # negative answers are cached too
        async with world.manager() as manager:
            await manager.suspend_tenant("acme")
        assert (
            await client.get("/x", headers={"X-Tenant-ID": "acme"})
        ).status_code == 200  # cached
        fake_clock.advance(31)
        assert (await client.get("/x", headers={"X-Tenant-ID": "acme"})).status_code == 403
        assert lookup.calls == 3


def test_misconfiguration_is_refused(world: Tenancy) -> None:
    lookup = SqlTenantLookup(world.engine)
    with pytest.raises(TenancyConfigurationError, match="base_domain"):
        TenantResolver(lookup, sources=("subdomain",))
    with pytest.raises(TenancyConfigurationError, match="sources"):
        TenantResolver(lookup, sources=("cookie",))  # type: ignore[arg-type]


async def test_fastapi_dependencies(world: Tenancy, fake_clock: FakeClock) -> None:
    app = FastAPI()
    install_problem_handler(app)

    @app.get("/api/v1/tenants/{tenant}/users")
    async def users(
        tenant: CurrentTenant,
        session: AsyncSession = Depends(tenant_session(world.strategy)),  # noqa: B008
    ) -> dict[str, Any]:
        emails = (await session.execute(select(User.email))).scalars().all()
        return {"tenant": tenant.tenant_id, "tier": tenant.plan_tier, "emails": emails}

    @app.get("/anonymous")
    async def anonymous(tenant: CurrentTenant) -> dict[str, str]:
        return {"tenant": tenant.tenant_id}

    resolver = TenantResolver(
        SqlTenantLookup(world.engine), sources=("path", "header"), clock=fake_clock
    )
    wrapped = TenantResolutionMiddleware(app, resolver=resolver)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://t"
    ) as client:
        response = await client.get("/api/v1/tenants/beta/users")
        assert response.json() == {"tenant": "beta", "tier": "FREE", "emails": ["b@beta.com"]}
        refused = await client.get("/anonymous")
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Tenant required"
        assert refused.json()["status"] == 400


async def test_refused_websocket_is_closed_with_the_status(
    world: Tenancy, fake_clock: FakeClock
) -> None:
    resolver = TenantResolver(SqlTenantLookup(world.engine), sources=("header",), clock=fake_clock)
    middleware = TenantResolutionMiddleware(downstream, resolver=resolver)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"x-tenant-id", b"frozen")]}
    await middleware(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 4403, "reason": "Tenant suspended"}]


async def test_lifespan_passes_through(world: Tenancy) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    resolver = TenantResolver(SqlTenantLookup(world.engine), sources=("header",))
    await TenantResolutionMiddleware(app, resolver=resolver)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


class _NoTenants:
    async def by_key(self, key: str) -> TenantRecord | None:
        return None

    async def by_domain(self, domain: str) -> TenantRecord | None:
        return None


async def test_exempt_paths_match_exactly_or_as_a_path_prefix() -> None:
    middleware = TenantResolutionMiddleware(
        downstream,
        resolver=TenantResolver(_NoTenants(), sources=("header",)),
        required=True,
        exempt_paths=("/health", "/docs/"),
    )

    async def status_of(path: str) -> int:
        sent: list[MutableMapping[str, Any]] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        async def receive() -> MutableMapping[str, Any]:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "path": path, "headers": [], "state": {}}
        await middleware(scope, receive, send)
        return int(sent[0]["status"])

    for path in ("/health", "/health/db", "/docs/", "/docs/oauth2-redirect"):
        assert await status_of(path) == 200, path
    for path in ("/healthz", "/docs", "/documents", "/x/health"):
        assert await status_of(path) == 400, path


class _Recording:
    """A lookup that records what it was asked (for raw scopes no HTTP client normalises)."""

    def __init__(self, records: dict[str, TenantRecord]) -> None:
        self.records = records
        self.asked: list[tuple[str, str]] = []

    async def by_key(self, key: str) -> TenantRecord | None:
        self.asked.append(("key", key))
        return self.records.get(key)

    async def by_domain(self, domain: str) -> TenantRecord | None:
        self.asked.append(("domain", domain))
        return self.records.get(domain)


async def test_one_header_scan_keeps_first_match_case_and_host_fallbacks() -> None:
    acme = TenantRecord(TenantUUID("id-acme"), TenantSlug("acme"), "FREE", "active")
    beta = TenantRecord(TenantUUID("id-beta"), TenantSlug("beta"), "FREE", "active")
    lookup = _Recording({"acme": acme, "beta": beta, "app.acme.com": acme})
    resolver = TenantResolver(lookup, sources=("header", "custom_domain"))

    async def resolve(*headers: tuple[bytes, bytes], server: Any = None) -> TenantRecord | None:
        scope: Scope = {"type": "http", "path": "/x", "headers": list(headers), "state": {}}
        if server is not None:
            scope["server"] = server
        return await resolver.resolve(scope)

    # Header names are matched whatever their case; the first of repeated headers decides.
    assert await resolve((b"X-Tenant-Id", b" beta "), (b"x-tenant-id", b"acme")) == beta
    # The header wins over the host, which is then never looked up.
    assert await resolve((b"host", b"app.acme.com"), (b"x-tenant-id", b"beta")) == beta
    assert ("domain", "app.acme.com") not in lookup.asked
    # The first Host header (port or trailing dot dropped, any case) names a custom domain.
    assert await resolve((b"HOST", b"App.Acme.com:8443"), (b"host", b"other.example")) == acme
    assert await resolve((b"host", b"app.acme.COM.")) == acme
    # Without a Host header the server address is the host; an unknown host names no tenant.
    assert await resolve(server=("app.acme.com", 443)) == acme
    assert await resolve((b"host", b"localhost")) is None
    assert await resolve((b"host", b"[::1]:8000")) is None  # an IPv6 literal is never looked up
    assert all(value != "[::1]" for _, value in lookup.asked)


async def test_a_record_builds_its_resolved_tenant_once() -> None:
    record = TenantRecord(TenantUUID("id-acme"), TenantSlug("acme"), "ENTERPRISE", "trial")
    assert record.resolved() is record.resolved()
    assert record.resolved() == ResolvedTenant(
        tenant_id=TenantSlug("acme"), plan_tier="ENTERPRISE", status="trial"
    )
    assert record == TenantRecord(TenantUUID("id-acme"), TenantSlug("acme"), "ENTERPRISE", "trial")


async def test_current_tenant_info_reads_the_cache_and_keeps_every_refusal(
    world: Tenancy, fake_clock: FakeClock
) -> None:
    app = FastAPI()
    install_problem_handler(app)
    info = current_tenant_info(world)

    @app.get("/me")
    async def me(tenant: TenantInfo = Depends(info)) -> dict[str, str]:  # noqa: B008
        return {"slug": tenant.slug, "tier": tenant.plan_tier.value}

    resolver = TenantResolver(
        SqlTenantLookup(world.engine), sources=("header", "token"), clock=fake_clock
    )
    wrapped = TokenTenant(TenantResolutionMiddleware(app, resolver=resolver))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=wrapped), base_url="http://t"
    ) as client:
        assert (await client.get("/me", headers={"X-Tenant-ID": "acme"})).json() == {
            "slug": "acme",
            "tier": "ENTERPRISE",
        }
        queries = world.tenants.queries
        for _ in range(5):  # a cached snapshot: no query
            assert (await client.get("/me", headers={"X-Test-Token-Tenant": "acme"})).is_success
        assert world.tenants.queries == queries
        await world.change_plan("acme", "FREE")  # this process sees its own change at once
        changed = await client.get("/me", headers={"X-Test-Token-Tenant": "acme"})
        assert changed.json()["tier"] == "FREE"
        assert (await client.get("/me")).status_code == 400
        async with world.manager() as manager:
            await manager.delete_tenant("beta")
        world.tenants.forget("beta")
        gone = await client.get("/me", headers={"X-Tenant-ID": "beta"})  # resolver still caches
        assert gone.status_code == 404
        assert gone.json()["title"] == "Tenant not found"
