"""NUL bytes, lone surrogates, overlong and odd unicode input: 4xx, never 5xx, never echoed.

Issue #12 item 3 reproduced ``CharacterNotInRepertoireError`` 500s on PostgreSQL for a JSON
``\\u0000`` in a login email or a workflow name and for ``%00`` in ids and dashboard slugs; a
60 KB workflow id became a Redis key and came back in the 404 body.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversarial.conftest import API, LiveApp, Tenant, bearer, new_tenant

HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 61_440,
    "\u202egnp.exe",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "acme\x00globex",
    "{t=acme}:*",
    "\U0001f4a5" * 50,
]
IDS = [f"v{i}" for i in range(len(HOSTILE))]


def _json(body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Request options sending ``body`` as ASCII JSON, so lone surrogates travel as escapes."""
    return {
        "content": json.dumps(body),
        "headers": {"Content-Type": "application/json", **(headers or {})},
    }


def _segment(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _ok_or_client_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.status_code, response.text)


def _no_echo(response: httpx.Response, value: str) -> None:
    if len(value) >= 8:
        assert value not in response.text
        assert _segment(value) not in response.text


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_a_hostile_login_email_is_a_401_or_422(live_app: LiveApp, value: str) -> None:
    with live_app.client() as client:
        response = client.post(f"{API}/auth/login", **_json({"email": value, "password": "x" * 12}))
    assert response.status_code in (401, 422), response.text
    _no_echo(response, value)


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_workflow_fields_are_stored_or_refused_never_a_500(
    live_app: LiveApp, value: str
) -> None:
    tokens = live_app.session("user@acme.example")
    with live_app.client() as client:
        created = client.post(f"{API}/workflows", **_json({"name": value[:200]}, bearer(tokens)))
        _ok_or_client_error(created)
        if "\x00" in value or "\ud800" in value:
            assert created.status_code == 422, created.text
        if created.status_code == 201:
            assert created.json()["name"] == value[:200]
            url = f"{API}/workflows/{created.json()['id']}"
            patched = client.patch(url, **_json({"description": value[:2000]}, bearer(tokens)))
            _ok_or_client_error(patched)


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_ids_in_paths_are_404_or_422_and_not_echoed(live_app: LiveApp, value: str) -> None:
    tokens = live_app.session("user@acme.example")
    segment = _segment(value)
    with live_app.client() as client:
        for method, path in [
            ("GET", f"{API}/workflows/{segment}"),
            ("PATCH", f"{API}/workflows/{segment}"),
            ("DELETE", f"{API}/workflows/{segment}"),
            ("POST", f"{API}/workflows/{segment}/execute"),
            ("GET", f"{API}/tenants/{segment}/workflows"),
            ("GET", f"/dashboard/{segment}"),
        ]:
            body = {"description": "x"} if method == "PATCH" else None
            response = client.request(method, path, headers=bearer(tokens), json=body)
            assert response.status_code in (400, 403, 404, 405, 422), (path[:80], response.text)
            _no_echo(response, value)


def test_an_overlong_workflow_id_never_becomes_a_redis_key(servers_app: LiveApp) -> None:
    import redis

    tokens = servers_app.session("user@acme.example")
    marker = uuid.uuid4().hex
    long_id = marker + "x" * 61_408
    with servers_app.client() as client:
        response = client.get(f"{API}/workflows/{long_id}", headers=bearer(tokens))
    assert response.status_code == 404
    assert marker not in response.text
    prefix = servers_app.env["RELAYPOINT_KEY_PREFIX"]
    connection = redis.Redis.from_url(servers_app.env["REDIS_URL"])
    try:
        keys = list(connection.scan_iter(match=f"{prefix}*{marker}*", count=1000))
    finally:
        connection.close()
    assert keys == []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.text(min_size=1, max_size=60), description=st.text(max_size=60))
def test_any_text_in_a_workflow_is_stored_exactly_or_refused(
    live_app: LiveApp, name: str, description: str
) -> None:
    tenant = _fuzz_tenant(live_app)
    with live_app.client() as client:
        created = client.post(
            f"{API}/tenants/{tenant.slug}/workflows",
            headers=bearer(tenant.admin),
            json={"name": name, "description": description},
        )
        _ok_or_client_error(created)
        if created.status_code == 201:
            got = client.get(
                f"{API}/tenants/{tenant.slug}/workflows/{created.json()['id']}",
                headers=bearer(tenant.admin),
            )
            assert (got.json()["name"], got.json()["description"]) == (name, description)
            client.delete(
                f"{API}/tenants/{tenant.slug}/workflows/{created.json()['id']}",
                headers=bearer(tenant.admin),
            )
        else:
            assert created.status_code == 422, created.text


_FUZZ_TENANTS: dict[str, Tenant] = {}


def _fuzz_tenant(app: LiveApp) -> Tenant:
    """One ENTERPRISE tenant per backend for the fuzz examples (no quota, generous limits)."""
    if app.backend not in _FUZZ_TENANTS:
        _FUZZ_TENANTS[app.backend] = new_tenant(app, plan="ENTERPRISE")
    return _FUZZ_TENANTS[app.backend]
