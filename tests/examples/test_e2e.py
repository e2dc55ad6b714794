"""End-to-end: the reference app over real HTTP (uvicorn on loopback), on embedded backends and
on PostgreSQL + Redis. Each test makes its own workflows/tenants, so order does not matter."""

from __future__ import annotations

import gzip
import re
import time
import uuid
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.examples.conftest import ALLOWED_ORIGIN, DEMO_PASSWORD, LiveApp

API = "/api/v1"
ROLES = ("super_admin", "tenant_admin", "manager", "team_lead", "user", "viewer", "api_user")
# role -> (create, update, execute, delete), straight from the documented RBAC table.
WORKFLOW_RIGHTS = {
    "super_admin": (True, True, True, True),
    "tenant_admin": (True, True, True, True),
    "manager": (True, True, True, True),
    "team_lead": (True, True, True, True),
    "user": (True, True, True, False),
    "viewer": (False, False, False, False),
    "api_user": (True, False, True, False),
}


def bearer(tokens: dict[str, str], **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}", **extra}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


def new_workflow(
    client: httpx.Client, tokens: dict[str, str], tenant: str = "acme"
) -> dict[str, Any]:
    response = client.post(
        f"{API}/tenants/{tenant}/workflows",
        headers=bearer(tokens),
        json={
            "name": f"wf-{uuid.uuid4().hex[:8]}",
            "steps": [{"name": "shout", "action": "uppercase", "input": "hi"}],
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- auth ---------------------------------------------------------------------------------------


def test_login_answers_with_the_seed_response_shape(live_app: LiveApp) -> None:
    tokens = live_app.login("user@acme.example")
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 1800
    with live_app.client() as client:
        wrong = client.post(
            f"{API}/auth/login", json={"email": "user@acme.example", "password": "nope"}
        )
        assert_problem(wrong, 401)
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        me = client.get(f"{API}/auth/me", headers=bearer(tokens))
        assert me.status_code == 200
        assert me.json()["tenant_slug"] == "acme"
        assert me.json()["roles"] == ["user"]
        assert_problem(client.get(f"{API}/auth/me"), 401)


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(live_app: LiveApp) -> None:
    first = live_app.login("manager@acme.example")
    with live_app.client() as client:
        rotated = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert client.get(f"{API}/workflows", headers=bearer(second)).status_code == 200
        # A retry of the same refresh inside the grace window gets the same pair, not a revocation.
        retry = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert retry.json()["refresh_token"] == second["refresh_token"]
        third = client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert third.status_code == 200, third.text

        # `first` is two rotations old now: no grace covers it, so it is reuse.
        reuse = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert assert_problem(reuse, 401)["code"] == "token_reused"
        # The whole family is gone: the legitimately rotated token no longer works either.
        after = client.post(
            f"{API}/auth/refresh", json={"refresh_token": third.json()["refresh_token"]}
        )
        assert_problem(after, 401)

        admin = live_app.session("tenant_admin@acme.example")
        audit = client.get(f"{API}/tenants/acme/audit-log?limit=200", headers=bearer(admin))
        assert audit.status_code == 200
        assert any(e["action"] == "auth.refresh_reuse" for e in audit.json()["items"])


def test_logout_ends_the_session(live_app: LiveApp) -> None:
    tokens = live_app.login("team_lead@acme.example")
    with live_app.client() as client:
        out = client.post(
            f"{API}/auth/logout",
            json={"refresh_token": tokens["refresh_token"]},
            headers=bearer(tokens),
        )
        assert out.status_code == 204
        again = client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert_problem(again, 401)


# --- workflows and RBAC -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_workflow_crud_follows_the_role(live_app: LiveApp, role: str) -> None:
    can_create, can_update, can_execute, can_delete = WORKFLOW_RIGHTS[role]
    tokens = live_app.session(f"{role}@acme.example")
    owner = live_app.session("tenant_admin@acme.example")
    with live_app.client() as client:
        target = new_workflow(client, owner)
        path = f"{API}/workflows/{target['id']}"
        listed = client.get(f"{API}/workflows", headers=bearer(tokens, **{"X-Tenant-ID": "acme"}))
        assert listed.status_code == 200
        assert client.get(path, headers=bearer(tokens)).status_code == 200

        created = client.post(
            f"{API}/tenants/acme/workflows", headers=bearer(tokens), json={"name": f"by {role}"}
        )
        assert created.status_code == (201 if can_create else 403), created.text
        if not can_create:
            assert_problem(created, 403)
        updated = client.patch(path, headers=bearer(tokens), json={"status": "paused"})
        assert updated.status_code == (200 if can_update else 403), updated.text
        executed = client.post(f"{path}/execute", headers=bearer(tokens))
        assert executed.status_code == (200 if can_execute else 403), executed.text
        if can_execute:
            assert executed.json()["output"] == [{"step": 0, "name": "shout", "result": "HI"}]
        deleted = client.delete(path, headers=bearer(tokens))
        assert deleted.status_code == (204 if can_delete else 403), deleted.text
        after = client.get(path, headers=bearer(owner))
        assert after.status_code == (404 if can_delete else 200)


def test_listing_paginates_by_50_and_selects_fields(live_app: LiveApp) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        for _ in range(3):
            new_workflow(client, tokens)
        page = client.get(f"{API}/tenants/acme/workflows", headers=bearer(tokens)).json()
        assert page["limit"] == 50
        assert page["offset"] == 0
        assert page["total"] >= 3
        small = client.get(
            f"{API}/tenants/acme/workflows?limit=2&offset=1&fields=id,name,status",
            headers=bearer(tokens),
        ).json()
        assert len(small["items"]) == 2
        assert small["next_offset"] == 3
        assert all(set(item) == {"id", "name", "status"} for item in small["items"])
        bad = client.get(f"{API}/tenants/acme/workflows?fields=id,secret", headers=bearer(tokens))
        assert "secret" in assert_problem(bad, 422)["detail"]
        assert_problem(client.get(f"{API}/workflows?limit=0", headers=bearer(tokens)), 422)


def test_workflow_reads_are_cached_and_invalidated_on_write(live_app: LiveApp) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        workflow = new_workflow(client, tokens)
        path = f"{API}/workflows/{workflow['id']}"
        first = client.get(path, headers=bearer(tokens))
        second = client.get(path, headers=bearer(tokens))
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
        assert first.json() == second.json()
        listing = client.get(f"{API}/workflows?limit=200", headers=bearer(tokens))
        assert (
            client.get(f"{API}/workflows?limit=200", headers=bearer(tokens)).headers["x-cache"]
            == "hit"
        )
        assert workflow["id"] in {w["id"] for w in listing.json()["items"]}

        renamed = client.patch(path, headers=bearer(tokens), json={"name": "renamed"})
        assert renamed.status_code == 200
        fresh = client.get(path, headers=bearer(tokens))
        assert fresh.headers["x-cache"] == "miss"
        assert fresh.json()["name"] == "renamed"
        assert fresh.json()["version"] == 2
        relisted = client.get(f"{API}/workflows?limit=200", headers=bearer(tokens))
        assert relisted.headers["x-cache"] == "miss"
        names = {w["id"]: w["name"] for w in relisted.json()["items"]}
        assert names[workflow["id"]] == "renamed"


def test_performance_report_counts_the_tenants_requests_and_cache_hits(live_app: LiveApp) -> None:
    user = live_app.session("user@acme.example")
    admin = live_app.session("tenant_admin@acme.example")
    report_path = f"{API}/tenants/acme/performance"
    with live_app.client() as client:
        before = client.get(report_path, headers=bearer(admin)).json()
        workflow = new_workflow(client, user)
        path = f"{API}/workflows/{workflow['id']}"
        assert client.get(path, headers=bearer(user)).headers["x-cache"] == "miss"
        assert client.get(path, headers=bearer(user)).headers["x-cache"] == "hit"
        after = client.get(report_path, headers=bearer(admin))
        assert after.status_code == 200
        report = after.json()
        assert report["tenant_id"] == "acme"
        assert report["request_count"] >= before["request_count"] + 3
        assert report["cache_hits"] >= before["cache_hits"] + 1
        assert report["cache_misses"] >= before["cache_misses"] + 1
        assert report["cache_hit_rate"] is not None
        assert report["latency"]["p50"] <= report["latency"]["p99"]
        bad = client.get(f"{report_path}?time_window=soon", headers=bearer(admin))
        assert "time_window" in assert_problem(bad, 422)["detail"] or bad.json().get("errors")
        assert (
            client.get(report_path, headers=bearer(live_app.session("api_user@acme.example")))
        ).status_code == 403


# --- tenant isolation ---------------------------------------------------------------------------


def test_acme_token_cannot_read_globex_by_path_header_or_host(live_app: LiveApp) -> None:
    acme = live_app.session("tenant_admin@acme.example")
    globex = live_app.session("tenant_admin@globex.example")
    with live_app.client() as client:
        theirs = client.get(f"{API}/workflows", headers=bearer(globex)).json()["items"]
        assert theirs
        assert all(w["tenant_id"] == theirs[0]["tenant_id"] for w in theirs)
        secret_id = theirs[0]["id"]

        by_path = client.get(f"{API}/tenants/globex/workflows", headers=bearer(acme))
        by_item_path = client.get(
            f"{API}/tenants/globex/workflows/{secret_id}", headers=bearer(acme)
        )
        by_header = client.get(
            f"{API}/workflows", headers=bearer(acme, **{"X-Tenant-ID": "globex"})
        )
        by_host = client.get(
            f"{API}/workflows", headers=bearer(acme, Host="globex.relaypoint.localhost")
        )
        for refused in (by_path, by_item_path, by_header, by_host):
            assert_problem(refused, 403)
            assert secret_id not in refused.text
        # Within its own tenant, acme's token cannot see globex's workflow by id either.
        own = client.get(f"{API}/workflows/{secret_id}", headers=bearer(acme))
        assert_problem(own, 404)
        acme_ids = {
            w["id"]
            for w in client.get(f"{API}/workflows?limit=200", headers=bearer(acme)).json()["items"]
        }
        assert secret_id not in acme_ids
        # The host of its own tenant works, and an unknown tenant is a 404.
        mine = client.get(
            f"{API}/workflows", headers=bearer(acme, Host="acme.relaypoint.localhost")
        )
        assert mine.status_code == 200
        assert_problem(client.get(f"{API}/tenants/nobody/workflows", headers=bearer(acme)), 404)


# --- tenant administration ----------------------------------------------------------------------


def test_tenant_admin_endpoints_and_their_permissions(live_app: LiveApp) -> None:
    admin = live_app.session("tenant_admin@acme.example")
    viewer = live_app.session("viewer@acme.example")
    root = live_app.session("super_admin@acme.example")
    with live_app.client() as client:
        usage = client.get(f"{API}/tenants/acme/usage", headers=bearer(viewer)).json()
        assert usage["plan_tier"] == "PROFESSIONAL"
        quotas = {item["resource"]: item for item in usage["resources"]}
        assert quotas["users"]["used"] == 7
        assert quotas["users"]["limit"] == 50
        assert quotas["workflows"]["used"] >= 3

        assert client.get(f"{API}/tenants/acme/plan", headers=bearer(admin)).json() == {
            "plan_tier": "PROFESSIONAL"
        }
        assert_problem(client.get(f"{API}/tenants/acme/plan", headers=bearer(viewer)), 403)
        assert_problem(client.get(f"{API}/tenants/acme/audit-log", headers=bearer(viewer)), 403)
        assert client.get(f"{API}/tenants/acme/audit-log", headers=bearer(admin)).status_code == 200
        branding = client.get(f"{API}/tenants/acme/branding", headers=bearer(viewer)).json()
        assert branding["company_name"] == "Acme Corporation"
        assert_problem(
            client.put(
                f"{API}/tenants/acme/branding",
                headers=bearer(viewer),
                json={"support_email": "x@acme.example"},
            ),
            403,
        )
        invalid = client.put(
            f"{API}/tenants/acme/branding", headers=bearer(admin), json={"primary_color": "red"}
        )
        assert_problem(invalid, 422)

        slug = f"t{uuid.uuid4().hex[:10]}"
        spec = {
            "name": "Initech",
            "slug": slug,
            "plan_tier": "STARTER",
            "admin_email": f"boss@{slug}.example",
            "admin_name": "Bill",
            "admin_password": "correct horse battery",
        }
        assert_problem(client.post(f"{API}/tenants", headers=bearer(admin), json=spec), 403)
        created = client.post(f"{API}/tenants", headers=bearer(root), json=spec)
        assert created.status_code == 201, created.text
        assert created.json()["slug"] == slug
        assert created.json()["plan_tier"] == "STARTER"
        assert_problem(client.post(f"{API}/tenants", headers=bearer(root), json=spec), 409)
    newcomer = live_app.login(f"boss@{slug}.example", tenant=slug, password="correct horse battery")
    with live_app.client() as client:
        assert client.get(f"{API}/workflows", headers=bearer(newcomer)).json()["items"] == []


def test_platform_admin_lists_tenants_and_overrides_a_quota(live_app: LiveApp) -> None:
    root = live_app.session("super_admin@acme.example")
    admin = live_app.session("tenant_admin@acme.example")
    slug = f"q{uuid.uuid4().hex[:10]}"
    password = "quota test password"
    with live_app.client() as client:
        listed = client.get(f"{API}/platform/tenants?limit=200", headers=bearer(root))
        assert {"acme", "globex"} <= {t["slug"] for t in listed.json()}
        assert_problem(client.get(f"{API}/platform/tenants", headers=bearer(admin)), 403)
        created = client.post(
            f"{API}/tenants",
            headers=bearer(root),
            json={
                "name": "Quota Co",
                "slug": slug,
                "plan_tier": "STARTER",
                "admin_email": f"admin@{slug}.example",
                "admin_name": "Quota admin",
                "admin_password": password,
            },
        )
        assert created.status_code == 201, created.text
        override = client.put(
            f"{API}/platform/tenants/{slug}/quotas/workflows",
            headers=bearer(root),
            json={"limit": 1},
        )
        assert override.status_code == 200, override.text
        limits = {i["resource"]: i["limit"] for i in override.json()["resources"]}
        assert limits["workflows"] == 1
        assert_problem(
            client.put(
                f"{API}/platform/tenants/{slug}/quotas/workflows",
                headers=bearer(admin),
                json={"limit": 100},
            ),
            403,
        )
    owner = live_app.login(f"admin@{slug}.example", tenant=slug, password=password)
    with live_app.client() as client:
        assert new_workflow(client, owner, tenant=slug)["name"].startswith("wf-")
        over = client.post(
            f"{API}/tenants/{slug}/workflows", headers=bearer(owner), json={"name": "one too many"}
        )
        assert "quota exceeded" in assert_problem(over, 403)["detail"]


def test_api_calls_count_against_the_monthly_quota(live_app: LiveApp) -> None:
    tokens = live_app.session("viewer@acme.example")

    def api_calls(client: httpx.Client) -> tuple[int, int]:
        usage = client.get(f"{API}/tenants/acme/usage", headers=bearer(tokens)).json()
        item = next(i for i in usage["resources"] if i["resource"] == "api_calls")
        return item["used"], item["limit"]

    with live_app.client() as client:
        before, limit = api_calls(client)
        assert limit == 1_000_000  # PROFESSIONAL
        for _ in range(5):
            assert client.get(f"{API}/workflows", headers=bearer(tokens)).status_code == 200
        # Calls are flushed every two seconds in one update per tenant; allow a generous bound.
        deadline = time.monotonic() + 20
        while (used := api_calls(client)[0]) < before + 6 and time.monotonic() < deadline:
            time.sleep(0.5)
    assert used >= before + 6


# --- rate limiting ------------------------------------------------------------------------------


def test_a_free_tenant_hits_429_with_headers_and_retry_after(live_app: LiveApp) -> None:
    root = live_app.session("super_admin@acme.example")
    slug = f"free{uuid.uuid4().hex[:8]}"
    password = "free plan password"
    with live_app.client() as client:
        created = client.post(
            f"{API}/tenants",
            headers=bearer(root),
            json={
                "name": "Free Co",
                "slug": slug,
                "plan_tier": "FREE",
                "admin_email": f"admin@{slug}.example",
                "admin_name": "Free admin",
                "admin_password": password,
            },
        )
        assert created.status_code == 201, created.text
    tokens = live_app.login(f"admin@{slug}.example", tenant=slug, password=password)
    admitted: list[httpx.Response] = []
    refused: httpx.Response | None = None
    with live_app.client() as client:
        for _ in range(70):
            response = client.get(f"{API}/workflows", headers=bearer(tokens))
            if response.status_code == 429:
                refused = response
                break
            assert response.status_code == 200, response.text
            admitted.append(response)
    assert refused is not None, "the FREE tier's 60/minute never refused a request"
    assert 0 < len(admitted) <= 60
    for response in admitted:
        assert response.headers["x-ratelimit-tier"] == "FREE"
        assert response.headers["x-ratelimit-limit"] == "60"
    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in admitted]
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[-1] >= 0
    body = assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == "60"
    assert refused.headers["x-ratelimit-tier"] == "FREE"
    assert "ratelimit-policy" in refused.headers
    assert "ratelimit" in refused.headers
    assert re.search(r"q=60;w=60", refused.headers["ratelimit-policy"])
    assert "STARTER" in refused.text, body  # the upgrade prompt names the next tier


def test_every_api_response_carries_rate_limit_headers(live_app: LiveApp) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        responses = [
            client.get(f"{API}/workflows", headers=bearer(tokens)),
            client.get(f"{API}/workflows/missing", headers=bearer(tokens)),
            client.post(f"{API}/workflows", headers=bearer(tokens), json={"name": ""}),
            client.get(f"{API}/tenants/globex/workflows", headers=bearer(tokens)),
            client.get(f"{API}/tenants/nobody/workflows", headers=bearer(tokens)),
            client.get(f"{API}/workflows"),
            client.get("/dashboard/acme"),
        ]
        for response in responses:
            assert "x-ratelimit-limit" in response.headers, (
                response.request.url,
                response.status_code,
            )
            assert "ratelimit-policy" in response.headers
        state = client.get(f"{API}/tenants/acme/rate-limit", headers=bearer(tokens)).json()
        assert state["tier"] == "PROFESSIONAL"
        scopes = {(w["scope"], w["window"]) for w in state["windows"]}
        assert {("user", "minute"), ("tenant", "minute")} <= scopes


# --- HTTP hygiene -------------------------------------------------------------------------------


def test_errors_are_problem_json_and_security_headers_are_set(live_app: LiveApp) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        garbage = client.post(
            f"{API}/workflows",
            headers=bearer(tokens, **{"Content-Type": "application/json"}),
            content=b"{not json",
        )
        assert_problem(garbage, 422)
        wrong_type = client.post(
            f"{API}/workflows", headers=bearer(tokens), json={"name": 5, "steps": "many"}
        )
        errors = assert_problem(wrong_type, 422)["errors"]
        assert {tuple(e["loc"][:2]) for e in errors} >= {("body", "name"), ("body", "steps")}
        assert_problem(client.get(f"{API}/no-such-route", headers=bearer(tokens)), 404)
        assert_problem(
            client.get(f"{API}/workflows", headers={"Authorization": "Bearer x.y.z"}), 401
        )

        page = client.get("/dashboard/acme")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in page.headers  # plain HTTP on loopback
        assert "server" not in page.headers  # uvicorn's Server header names the stack
        api = client.get(f"{API}/workflows", headers=bearer(tokens))
        assert api.headers["cache-control"] == "no-store"

        # Browsers fetch /favicon.ico from every page of the origin: the platform mark, not a 404.
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")
        assert ElementTree.fromstring(icon.content).tag == "{http://www.w3.org/2000/svg}svg"


def test_gzip_and_cors_allow_list(live_app: LiveApp) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        zipped = client.get(
            f"{API}/workflows?limit=200",
            headers=bearer(tokens, **{"Accept-Encoding": "gzip"}),
        )
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.json()["items"]  # httpx decompressed it
        with client.stream(
            "GET",
            f"{API}/workflows?limit=200",
            headers=bearer(tokens, **{"Accept-Encoding": "gzip"}),
        ) as raw:
            compressed = b"".join(raw.iter_raw())
        assert b'"items"' in gzip.decompress(compressed)
        small = client.get(f"{API}/auth/me", headers=bearer(tokens, **{"Accept-Encoding": "gzip"}))
        assert "content-encoding" not in small.headers  # below the 500-byte threshold

        allowed = client.options(
            f"{API}/workflows",
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        denied = client.options(
            f"{API}/workflows",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in denied.headers
        simple = client.get(f"{API}/workflows", headers=bearer(tokens, Origin=ALLOWED_ORIGIN))
        assert "x-ratelimit-remaining" in simple.headers["access-control-expose-headers"].lower()


def test_openapi_declares_the_bearer_scheme(live_app: LiveApp) -> None:
    with live_app.client() as client:
        spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    secured = spec["paths"][f"{API}/tenants/{{tenant_id}}/workflows"]["get"]
    assert secured["security"]
    assert "/api/v1/auth/login" in spec["paths"]


# --- metrics ------------------------------------------------------------------------------------


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels_text, _, value = line[len(name) + 1 :].rpartition("} ")
            labels = dict(re.findall(r'(\w+)="([^"]*)"', labels_text))
            found.append((labels, float(value)))
    return found


def test_metrics_show_the_traffic(live_app: LiveApp) -> None:
    tokens = live_app.session("viewer@acme.example")
    with live_app.client() as client:
        before = client.get("/metrics").text
        for _ in range(3):
            assert (
                client.get(f"{API}/tenants/acme/workflows", headers=bearer(tokens)).status_code
                == 200
            )
        assert (
            client.post(f"{API}/workflows", headers=bearer(tokens), json={"name": "no"}).status_code
            == 403
        )
        after = client.get("/metrics").text

    def count(text: str, route: str, status_class: str) -> float:
        return sum(
            value
            for labels, value in _samples(text, "relaypoint_api_requests_total")
            if labels.get("route") == route
            and labels.get("status_class") == status_class
            and labels.get("plan_tier") == "PROFESSIONAL"
        )

    route = f"{API}/tenants/{{tenant_id}}/workflows"
    assert count(after, route, "2xx") - count(before, route, "2xx") == 3
    assert count(after, f"{API}/workflows", "4xx") - count(before, f"{API}/workflows", "4xx") == 1
    # Raw paths never become label values.
    assert f"{API}/tenants/acme/workflows" not in after
    assert _samples(after, "relaypoint_api_request_duration_seconds_count")
    assert "relaypoint_cache" in after
    # The workflow repository's queries are timed per operation and table, and the pool is published.
    queried = {
        (labels.get("operation"), labels.get("table"))
        for labels, value in _samples(after, "relaypoint_db_query_duration_seconds_count")
        if value > 0
    }
    assert ("SELECT", "app_workflows") in queried
    sizes = [value for _, value in _samples(after, "relaypoint_db_pool_size")]
    assert sizes
    assert max(sizes) > 0


# --- start-up -----------------------------------------------------------------------------------


def test_startup_says_which_backends_are_in_use(live_app: LiveApp) -> None:
    log = live_app.log()
    assert f"password '{DEMO_PASSWORD}'" in log
    assert "signing tokens with an ephemeral random key" in log
    assert "acme (PROFESSIONAL), globex (FREE)" in log
    if live_app.backend == "embedded":
        assert "(embedded SQLite, shared isolation)" in log
        assert "rate limiting: memory:// (in-process)" in log
        assert "cache:         memory:// (L1 only)" in log
    else:
        assert "(PostgreSQL, schema isolation)" in log
        assert "rate limiting: redis://" in log
        assert "(Redis L2)" in log
        assert "tokens:        redis://" in log
