"""No tenant leak: whatever way acme's token names globex, and whichever workflow operation it
tries, the answer is a refusal that carries none of globex's data (hypothesis picks the mix)."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversarial.conftest import API, LiveApp, bearer

_SECRETS: dict[str, dict[str, Any]] = {}


def _globex_secret(app: LiveApp) -> dict[str, Any]:
    """A globex workflow whose name must never appear in an answer to acme."""
    if app.backend not in _SECRETS:
        globex = app.session("tenant_admin@globex.example")
        name = f"globex-secret-{uuid.uuid4().hex}"
        with app.client() as client:
            created = client.post(
                f"{API}/tenants/globex/workflows", headers=bearer(globex), json={"name": name}
            )
        assert created.status_code == 201, created.text
        _SECRETS[app.backend] = created.json()
    return _SECRETS[app.backend]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    naming=st.sampled_from(["path", "header", "host", "path+header", "own-path+id"]),
    operation=st.sampled_from(["list", "get", "patch", "delete", "execute"]),
    role=st.sampled_from(["tenant_admin", "manager", "user"]),
)
def test_acme_cannot_touch_globex(
    live_app: LiveApp, naming: str, operation: str, role: str
) -> None:
    secret = _globex_secret(live_app)
    acme = live_app.session(f"{role}@acme.example")
    headers = bearer(acme)
    base = f"{API}/workflows"
    if naming in ("path", "path+header"):
        base = f"{API}/tenants/globex/workflows"
    if naming in ("header", "path+header"):
        headers["X-Tenant-ID"] = "globex"
    if naming == "host":
        headers["Host"] = "globex.relaypoint.localhost"
    if naming == "own-path+id":
        base = f"{API}/tenants/acme/workflows"
    item = f"{base}/{secret['id']}"
    method, url, body = {
        "list": ("GET", base, None),
        "get": ("GET", item, None),
        "patch": ("PATCH", item, {"name": "hijacked"}),
        "delete": ("DELETE", item, None),
        "execute": ("POST", f"{item}/execute", None),
    }[operation]
    with live_app.client() as client:
        response = client.request(method, url, headers=headers, json=body)
    if naming == "own-path+id" and operation == "list":
        assert response.status_code == 200
    else:
        assert response.status_code in (400, 403, 404), (naming, operation, response.text)
    assert secret["name"] not in response.text
    assert secret["id"] not in response.text or response.status_code == 404


def test_globex_workflow_survived_every_attack(live_app: LiveApp) -> None:
    secret = _globex_secret(live_app)
    globex = live_app.session("tenant_admin@globex.example")
    with live_app.client() as client:
        got = client.get(f"{API}/tenants/globex/workflows/{secret['id']}", headers=bearer(globex))
    assert got.status_code == 200
    assert got.json()["name"] == secret["name"]
    assert got.json()["run_count"] == 0
