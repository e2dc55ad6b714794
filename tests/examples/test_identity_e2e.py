"""End-to-end identity features of the reference app: API keys, sessions, logout-all and JWKS,
on embedded backends and on PostgreSQL + Redis."""

from __future__ import annotations

import time
import uuid

from tests.examples.conftest import LiveApp
from tests.examples.test_e2e import API, assert_problem, bearer


def test_api_keys_are_created_once_used_by_both_headers_scoped_and_revoked(
    live_app: LiveApp,
) -> None:
    admin = live_app.session("tenant_admin@acme.example")
    name = f"ci-{uuid.uuid4().hex[:6]}"
    with live_app.client() as client:
        created = client.post(
            f"{API}/tenants/acme/api-keys",
            headers=bearer(admin),
            json={"name": name, "permissions": ["workflow:read"], "expires_in_days": 30},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert set(body) == {"id", "key", "prefix", "name", "permissions", "expires_at"}
        key = body["key"]

        listed = client.get(f"{API}/tenants/acme/api-keys", headers=bearer(admin)).json()
        mine = next(item for item in listed if item["id"] == body["id"])
        assert "key" not in mine
        assert key not in str(listed)

        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            assert client.get(f"{API}/tenants/acme/workflows", headers=headers).status_code == 200
            write = client.post(
                f"{API}/tenants/acme/workflows",
                headers=headers,
                json={"name": "x", "steps": [{"name": "s", "action": "uppercase", "input": "a"}]},
            )
            assert 'error="insufficient_scope"' in write.headers["www-authenticate"]
            assert_problem(write, 403)
            other = client.get(f"{API}/tenants/globex/workflows", headers=headers)
            assert other.status_code in (403, 404)
        limited = client.get(f"{API}/tenants/acme/workflows", headers={"X-API-Key": key})
        assert "ratelimit-policy" in {h.lower() for h in limited.headers}

        wider = client.post(
            f"{API}/tenants/acme/api-keys",
            headers=bearer(live_app.session("viewer@acme.example")),
            json={"name": "nope", "permissions": ["workflow:delete"]},
        )
        assert_problem(wider, 403)

        used = client.get(f"{API}/tenants/acme/api-keys", headers=bearer(admin)).json()
        assert next(i for i in used if i["id"] == body["id"])["last_used_at"] is not None

        revoked = client.delete(f"{API}/tenants/acme/api-keys/{body['id']}", headers=bearer(admin))
        assert revoked.status_code == 204
        deadline = time.monotonic() + 1.0
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = client.get(
                f"{API}/tenants/acme/workflows", headers={"X-API-Key": key}
            ).status_code
        assert status == 401
        gone = client.delete(f"{API}/tenants/globex/api-keys/{body['id']}", headers=bearer(admin))
        assert gone.status_code in (403, 404)


def test_sessions_can_be_listed_revoked_and_all_logged_out(live_app: LiveApp) -> None:
    # team_lead: no other test keeps a cached session of this user that logout-all would end.
    one = live_app.login("team_lead@acme.example")
    two = live_app.login("team_lead@acme.example")
    with live_app.client() as client:
        sessions = client.get(f"{API}/auth/sessions", headers=bearer(one))
        assert sessions.status_code == 200, sessions.text
        assert len(sessions.json()) >= 2
        assert all("user_agent" in s["client"] for s in sessions.json())
        ended = client.post(f"{API}/auth/logout-all", headers=bearer(two))
        assert ended.status_code == 200
        assert ended.json()["revoked_sessions"] >= 2
        assert_problem(
            client.post(f"{API}/auth/refresh", json={"refresh_token": one["refresh_token"]}), 401
        )
        fresh = live_app.login("team_lead@acme.example")
        assert client.get(f"{API}/auth/sessions", headers=bearer(fresh)).status_code == 200
        assert_problem(client.delete(f"{API}/auth/sessions/nope", headers=bearer(fresh)), 404)


def test_jwks_is_published_with_caching_headers(live_app: LiveApp) -> None:
    with live_app.client() as client:
        response = client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jwk-set+json")
        assert "max-age" in response.headers["cache-control"]
        assert "keys" in response.json()
        again = client.get(
            "/.well-known/jwks.json", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304


def test_an_asymmetric_algorithm_without_its_private_key_stops_production_start_up() -> None:
    from tests.examples.test_startup import run_app

    result = run_app(
        ENVIRONMENT="production",
        SECRET_KEY="Qx7" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        JWT_ALGORITHM="EdDSA",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "JWT_PRIVATE_KEY" in output
    assert "Traceback" not in output


def test_an_api_key_is_rate_limited_as_its_own_principal_at_the_tenants_tier(
    live_app: LiveApp,
) -> None:
    admin = live_app.session("tenant_admin@acme.example")
    with live_app.client() as client:
        created = client.post(
            f"{API}/tenants/acme/api-keys",
            headers=bearer(admin),
            json={"name": f"rl-{uuid.uuid4().hex[:6]}", "permissions": ["analytics:read"]},
        )
        assert created.status_code == 201, created.text
        headers = {"X-API-Key": created.json()["key"]}
        for _ in range(3):
            state = client.get(f"{API}/tenants/acme/rate-limit", headers=headers)
            assert state.status_code == 200, state.text
        mine = state.json()
        by_admin = client.get(f"{API}/tenants/acme/rate-limit", headers=bearer(admin)).json()
    assert mine["tier"] == by_admin["tier"]
    user_windows = [w for w in mine["windows"] if w["scope"] == "user"]
    assert user_windows
    assert all(w["used"] == 3 for w in user_windows), mine
