# ruff: noqa: B008 - Depends() defaults are exactly how the seed documents the dependencies
"""The FastAPI dependencies over a real app, driven through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from relaypoint_core.audit import AuditAction, InMemoryAuditLog
from relaypoint_core.auth import AuthService, KeyRing, Permission
from relaypoint_core.fastapi import (
    RequireAdminAccess,
    RequireWorkflowCreate,
    create_auth_router,
    get_current_principal,
    install_auth,
    require,
)
from relaypoint_core.request_state import Principal, ResolvedTenant, set_scope_tenant
from relaypoint_core.testing import FakeClock
from tests.core.auth.conftest import PASSWORD, ServiceFactory


class _PinTenant:
    """Stands in for the tenancy middleware: resolves the tenant from an X-Tenant header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"x-tenant":
                set_scope_tenant(scope, ResolvedTenant(value.decode()))
        await self.app(scope, receive, send)


def build_app(service: AuthService, *, middleware: bool = True) -> FastAPI:
    app = FastAPI()
    install_auth(app, service, middleware=middleware)
    app.add_middleware(_PinTenant)
    app.include_router(create_auth_router())

    @app.post("/workflows")
    async def create_workflow(
        current_user: Principal = Depends(RequireWorkflowCreate),
    ) -> dict[str, Any]:
        return {"created_by": current_user.user_id, "tenant": current_user.tenant_id}

    @app.get("/admin")
    async def admin(current_user: Principal = Depends(RequireAdminAccess)) -> dict[str, str]:
        return {"admin": current_user.user_id}

    @app.get("/billing")
    async def billing(
        current_user: Principal = Depends(require(Permission.BILLING_READ, "analytics:read")),
    ) -> dict[str, str]:
        return {"ok": current_user.user_id}

    @app.get("/me")
    async def me(current_user: Principal = Depends(get_current_principal)) -> dict[str, Any]:
        return {"user": current_user.user_id, "roles": list(current_user.roles)}

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    return app


@pytest.fixture(params=[True, False], ids=["with-middleware", "dependency-only"])
async def client(
    request: pytest.FixtureRequest, make_service: ServiceFactory
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(make_service(), middleware=request.param)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield http


async def _login(http: httpx.AsyncClient, email: str, tenant: str | None) -> dict[str, Any]:
    response = await http.post(
        "/auth/login", json={"email": email, "password": PASSWORD, "tenant_id": tenant}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_response_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    body = await _login(client, "alice@acme.test", "acme")
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800


async def test_bad_login_is_a_401_problem(client: httpx.AsyncClient) -> None:
    for email, password in (("alice@acme.test", "wrong"), ("nobody@acme.test", PASSWORD)):
        response = await client.post(
            "/auth/login", json={"email": email, "password": password, "tenant_id": "acme"}
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "invalid email or password"


async def test_missing_token_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/workflows")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_token"
    assert (await client.get("/public")).status_code == 200


async def test_invalid_and_expired_tokens_are_401(
    client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    response = await client.get("/me", headers=_bearer("garbage.token.here"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    tokens = await _login(client, "alice@acme.test", "acme")
    response = await client.get("/me", headers={"Authorization": f"Basic {tokens['access_token']}"})
    assert response.status_code == 401
    fake_clock.advance(31 * 60)
    response = await client.get("/me", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_permission_granted_and_denied(
    client: httpx.AsyncClient, audit: InMemoryAuditLog
) -> None:
    manager = await _login(client, "alice@acme.test", "acme")
    viewer = await _login(client, "bob@globex.test", "globex")
    response = await client.post("/workflows", headers=_bearer(manager["access_token"]))
    assert response.status_code == 200
    assert response.json() == {"created_by": "u-1", "tenant": "acme"}
    assert (
        await client.get("/billing", headers=_bearer(manager["access_token"]))
    ).status_code == 200

    response = await client.post("/workflows", headers=_bearer(viewer["access_token"]))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "workflow:create" in response.json()["detail"]
    response = await client.get("/admin", headers=_bearer(manager["access_token"]))
    assert response.status_code == 403
    denials = audit.find(action=AuditAction.PERMISSION_DENIED)
    assert {(e.actor, e.details["permission"]) for e in denials} == {
        ("u-2", "workflow:create"),
        ("u-1", "admin:access"),
    }
    assert {e.target for e in denials} == {"POST /workflows", "GET /admin"}


async def test_role_in_one_tenant_grants_nothing_in_another(client: httpx.AsyncClient) -> None:
    manager = await _login(client, "alice@acme.test", "acme")
    headers = {**_bearer(manager["access_token"]), "X-Tenant": "globex"}
    assert (await client.post("/workflows", headers=headers)).status_code == 403
    headers["X-Tenant"] = "acme"
    assert (await client.post("/workflows", headers=headers)).status_code == 200


async def test_super_admin_is_platform_wide(client: httpx.AsyncClient) -> None:
    root = await _login(client, "root@platform.test", None)
    for tenant in ("acme", "globex"):
        headers = {**_bearer(root["access_token"]), "X-Tenant": tenant}
        assert (await client.get("/admin", headers=headers)).status_code == 200


async def test_refresh_and_reuse_over_http(
    client: httpx.AsyncClient, fake_clock: FakeClock
) -> None:
    first = await _login(client, "alice@acme.test", "acme")
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json()
    assert (await client.get("/me", headers=_bearer(second["access_token"]))).status_code == 200
    retry = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert retry.json()["refresh_token"] == second["refresh_token"]  # within the grace window
    fake_clock.advance(11)
    reuse = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "token_reused"
    again = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["code"] == "token_revoked"


async def test_logout_over_http(client: httpx.AsyncClient) -> None:
    tokens = await _login(client, "alice@acme.test", "acme")
    response = await client.post(
        "/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=_bearer(tokens["access_token"]),
    )
    assert response.status_code == 204
    response = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401


async def test_dependency_without_install_fails_with_a_clear_message(
    make_service: ServiceFactory,
) -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(current_user: Principal = Depends(get_current_principal)) -> str:
        return current_user.user_id

    service = make_service(keys=KeyRing.from_secret("s" * 48))
    token = (await service.issue_tokens(await _any_user(service))).access_token
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(Exception, match="install_auth"):
            await http.get("/me", headers=_bearer(token))


async def _any_user(service: AuthService) -> Any:
    assert service.users is not None
    return await service.users.get_by_id("u-1")


def test_require_rejects_malformed_permissions() -> None:
    with pytest.raises(ValueError, match="resource:action"):
        require("workflows")
    with pytest.raises(ValueError, match="at least one"):
        require()
