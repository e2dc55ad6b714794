"""A FREE tenant's own admin cannot buy itself ENTERPRISE through ``PUT /plan`` (issue #12 item
9: ``billing:*`` is in the tenant_admin row, so it could); a platform admin can (through
``/platform``, the one place a token may address another tenant), and a tenant that downgrades
keeps working."""

from __future__ import annotations

from tests.adversarial.conftest import API, LiveApp, bearer, new_tenant


def test_a_free_tenant_admin_cannot_upgrade_to_enterprise(live_app: LiveApp) -> None:
    tenant = new_tenant(live_app, plan="FREE")
    url = f"{API}/tenants/{tenant.slug}/plan"
    with live_app.client() as client:
        refused = client.put(url, headers=bearer(tenant.admin), json={"plan_tier": "ENTERPRISE"})
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert client.get(url, headers=bearer(tenant.admin)).json() == {"plan_tier": "FREE"}
        root = live_app.session("super_admin@acme.example")
        granted = client.put(
            f"{API}/platform/tenants/{tenant.slug}/plan",
            headers=bearer(root),
            json={"plan_tier": "ENTERPRISE"},
        )
        assert granted.status_code == 200, granted.text
        assert client.get(url, headers=bearer(tenant.admin)).json() == {"plan_tier": "ENTERPRISE"}


def test_a_tenant_admin_may_downgrade_and_keeps_working(live_app: LiveApp) -> None:
    tenant = new_tenant(live_app, plan="PROFESSIONAL")
    with live_app.client() as client:
        for _ in range(3):
            assert client.get(f"{API}/workflows", headers=bearer(tenant.admin)).status_code == 200
        down = client.put(
            f"{API}/tenants/{tenant.slug}/plan",
            headers=bearer(tenant.admin),
            json={"plan_tier": "FREE"},
        )
        assert down.status_code == 200, down.text
        after = client.get(f"{API}/tenants/{tenant.slug}/workflows", headers=bearer(tenant.admin))
        assert after.status_code == 200, after.text
        assert after.headers["x-ratelimit-tier"] == "FREE"
