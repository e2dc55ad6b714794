# ruff: noqa: B008 - Depends() defaults are how the dependencies are documented
"""An application's own permissions and roles, added to the seed's preset without editing the
SDK, are enforced by the FastAPI dependencies like the seed's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI

from relaypoint_core.auth import InMemoryUserDirectory, UserRecord
from relaypoint_core.fastapi import create_auth_router, install_auth, require
from relaypoint_core.rbac import DEFAULT_POLICY, PermissionChecker
from relaypoint_core.request_state import Principal
from tests.core.auth.conftest import PASSWORD, ServiceFactory

_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)

POLICY = DEFAULT_POLICY.extend(
    permissions=["report:read", "report:export"],
    grants={"viewer": ["report:read"], "auditor": ["report:*", "audit_log:read"]},
    inherits={"auditor": ["viewer"]},
)


@pytest.fixture
def users() -> InMemoryUserDirectory:
    return InMemoryUserDirectory(
        [
            UserRecord("u-a", "audrey@acme.test", _HASH, "acme", ("auditor",)),
            UserRecord("u-v", "vic@acme.test", _HASH, "acme", ("viewer",)),
            UserRecord("u-m", "max@acme.test", _HASH, "acme", ("manager",)),
        ]
    )


@pytest.fixture
async def client(make_service: ServiceFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_auth(app, make_service(checker=PermissionChecker(POLICY)))
    app.include_router(create_auth_router())

    @app.get("/reports")
    async def reports(user: Principal = Depends(require("report:read"))) -> dict[str, str]:
        return {"reader": user.user_id}

    @app.post("/reports/export")
    async def export(user: Principal = Depends(require("report:export"))) -> dict[str, str]:
        return {"exporter": user.user_id}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield http


async def _token(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await http.post(
        "/auth/login", json={"email": email, "password": PASSWORD, "tenant_id": "acme"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_custom_permissions_reach_the_dependencies(client: httpx.AsyncClient) -> None:
    auditor = await _token(client, "audrey@acme.test")
    viewer = await _token(client, "vic@acme.test")
    manager = await _token(client, "max@acme.test")
    assert (await client.get("/reports", headers=auditor)).json() == {"reader": "u-a"}
    assert (await client.post("/reports/export", headers=auditor)).status_code == 200
    # A grant added to viewer reaches every seed role that inherits viewer.
    assert (await client.get("/reports", headers=viewer)).status_code == 200
    assert (await client.get("/reports", headers=manager)).status_code == 200
    denied = await client.post("/reports/export", headers=manager)
    assert denied.status_code == 403
    assert "report:export" in denied.json()["detail"]
