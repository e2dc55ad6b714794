"""Over HTTP: RFC 6750 challenges, and API keys by both headers, within scope and tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from relaypoint_core.auth import ApiKeyService, AuthService, create_api_key_store
from relaypoint_core.request_state import Principal
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget
from tests.core.auth.conftest import PASSWORD, ServiceFactory
from tests.core.auth.test_fastapi import build_app

ADMIN = Principal("u-admin", "acme", ("tenant_admin",))


@pytest.fixture
async def keys(backend: BackendTarget, fake_clock: FakeClock) -> AsyncIterator[ApiKeyService]:
    service = ApiKeyService(
        create_api_key_store(backend.url, key_prefix=backend.key_prefix, clock=fake_clock),
        clock=fake_clock,
    )
    yield service
    await service.aclose()


@pytest.fixture(params=[True, False], ids=["with-middleware", "dependency-only"])
async def app_client(
    request: pytest.FixtureRequest, make_service: ServiceFactory, keys: ApiKeyService
) -> AsyncIterator[tuple[httpx.AsyncClient, AuthService]]:
    service = make_service()
    service.add_credential_verifier(keys, owned=False)
    app = build_app(service, middleware=request.param)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, service


async def test_no_credentials_get_a_bare_challenge(
    app_client: tuple[httpx.AsyncClient, AuthService],
) -> None:
    client, _ = app_client
    response = await client.post("/workflows")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="relaypoint"'


async def test_bad_tokens_get_invalid_token(
    app_client: tuple[httpx.AsyncClient, AuthService],
) -> None:
    client, _ = app_client
    for credential in ("not-a-token", "rpk_" + "a" * 16 + "_" + "b" * 43):
        response = await client.post(
            "/workflows", headers={"Authorization": f"Bearer {credential}"}
        )
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_wrong_password_is_invalid_credentials_without_a_bearer_error(
    app_client: tuple[httpx.AsyncClient, AuthService],
) -> None:
    client, _ = app_client
    response = await client.post(
        "/auth/login", json={"email": "alice@acme.test", "password": "nope", "tenant_id": "acme"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert "error=" not in response.headers.get("www-authenticate", "")


async def test_a_missing_permission_is_insufficient_scope(
    app_client: tuple[httpx.AsyncClient, AuthService],
) -> None:
    client, _ = app_client
    login = await client.post(
        "/auth/login",
        json={"email": "bob@globex.test", "password": PASSWORD, "tenant_id": "globex"},
    )
    token = login.json()["access_token"]
    response = await client.post("/workflows", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="workflow:create"' in challenge


async def test_an_api_key_works_by_both_headers_within_scope_and_tenant(
    app_client: tuple[httpx.AsyncClient, AuthService], keys: ApiKeyService
) -> None:
    client, _ = app_client
    created = await keys.create(ADMIN, tenant_id="acme", name="ci", permissions=["workflow:create"])
    for headers in ({"Authorization": f"Bearer {created.key}"}, {"X-API-Key": created.key}):
        response = await client.post("/workflows", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "created_by": f"apikey:{created.record.key_id}",
            "tenant": "acme",
        }
        out_of_scope = await client.get("/admin", headers=headers)
        assert out_of_scope.status_code == 403
        assert 'error="insufficient_scope"' in out_of_scope.headers["www-authenticate"]
        other_tenant = await client.post("/workflows", headers={**headers, "X-Tenant": "globex"})
        assert other_tenant.status_code == 403


async def test_a_revoked_key_is_refused_over_http(
    app_client: tuple[httpx.AsyncClient, AuthService], keys: ApiKeyService
) -> None:
    client, _ = app_client
    created = await keys.create(ADMIN, tenant_id="acme", name="ci", permissions=["workflow:create"])
    headers = {"X-API-Key": created.key}
    assert (await client.post("/workflows", headers=headers)).status_code == 200
    await keys.revoke(ADMIN, "acme", created.record.key_id)
    response = await client.post("/workflows", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
