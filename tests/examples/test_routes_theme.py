"""The upgrade call-to-action's route (who changes a plan, who only asks, who may not) and the
capabilities the dashboard hides controls by. That a throttled caller still gets through is
checked in the browser test, where the budget is spent for real."""

from __future__ import annotations

from tests.examples.conftest import LiveApp


def _auth(app: LiveApp, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.session(email)['access_token']}"}


def test_tenant_admin_requests_an_upgrade_and_it_lands_in_the_audit_log(live_app: LiveApp) -> None:
    with live_app.client(headers=_auth(live_app, "tenant_admin@globex.example")) as client:
        options = client.get("/api/v1/billing/upgrade")
        asked = client.post("/api/v1/billing/upgrade", json={"plan_tier": "STARTER"})
        plan = client.get("/api/v1/tenants/globex/plan")
        audit = client.get("/api/v1/tenants/globex/audit-log").json()["items"]
    assert options.status_code == 200
    assert options.json() == {"current_plan": "FREE", "next_plan": "STARTER", "mode": "request"}
    assert asked.status_code == 202
    assert asked.json()["status"] == "requested"
    assert plan.json()["plan_tier"] == "FREE"  # unchanged until a platform admin acts
    requests = [e for e in audit if e["action"] == "billing.upgrade_requested"]
    assert requests
    assert requests[0]["detail"]["target"] == "STARTER"


def test_roles_without_billing_access_cannot_use_it(live_app: LiveApp) -> None:
    with live_app.client(headers=_auth(live_app, "viewer@globex.example")) as client:
        refused = client.post("/api/v1/billing/upgrade", json={"plan_tier": "STARTER"})
    assert refused.status_code == 403
    with live_app.client() as client:
        anonymous = client.post("/api/v1/billing/upgrade", json={"plan_tier": "STARTER"})
    assert anonymous.status_code == 401


def test_a_downgrade_or_unknown_plan_is_refused(live_app: LiveApp) -> None:
    with live_app.client(headers=_auth(live_app, "tenant_admin@acme.example")) as client:
        down = client.post("/api/v1/billing/upgrade", json={"plan_tier": "FREE"})
        unknown = client.post("/api/v1/billing/upgrade", json={"plan_tier": "GOLD"})
    assert down.status_code == 409  # a real plan, but not above this tenant's
    assert unknown.status_code == 422


def test_a_platform_admin_upgrades_at_once(live_app: LiveApp) -> None:
    headers = _auth(live_app, "super_admin@acme.example")
    with live_app.client(headers=headers) as client:
        assert client.get("/api/v1/billing/upgrade").json()["mode"] == "change"
        changed = client.post("/api/v1/billing/upgrade", json={"plan_tier": "ENTERPRISE"})
        try:
            assert changed.status_code == 200, changed.text
            assert changed.json() == {"status": "changed", "plan_tier": "ENTERPRISE"}
            assert client.get("/api/v1/tenants/acme/plan").json()["plan_tier"] == "ENTERPRISE"
        finally:
            restored = client.put("/api/v1/tenants/acme/plan", json={"plan_tier": "PROFESSIONAL"})
    assert restored.status_code == 200


def test_capabilities_list_what_the_caller_may_do(live_app: LiveApp) -> None:
    with live_app.client(headers=_auth(live_app, "viewer@acme.example")) as client:
        viewer = client.get("/api/v1/tenants/acme/capabilities").json()
    with live_app.client(headers=_auth(live_app, "manager@acme.example")) as client:
        manager = client.get("/api/v1/tenants/acme/capabilities").json()
        other = client.get("/api/v1/tenants/globex/capabilities")
    assert "workflow:read" in viewer["permissions"]
    assert "workflow:execute" not in viewer["permissions"]
    assert {"workflow:create", "workflow:execute", "workflow:delete"} <= set(manager["permissions"])
    assert other.status_code == 403  # another tenant's path: refused like every tenant route
