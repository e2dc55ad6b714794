"""Concurrent writes to one workflow: the counts come out right and nothing answers 5xx.

Issue #12 item 2 reproduced 8 concurrent DELETEs all answering 204 (each giving back quota, so a
tenant could hold more workflows than its plan allows), ``StaleDataError`` 500s when PATCH or
execute raced a DELETE, and lost ``run_count``/``version`` updates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.adversarial.conftest import API, LiveApp, Tenant, bearer, new_tenant, workflows_used


def _create(client: httpx.Client, tenant: Tenant, name: str = "raced") -> dict[str, Any]:
    response = client.post(
        f"{API}/tenants/{tenant.slug}/workflows",
        headers=bearer(tenant.admin),
        json={"name": name, "steps": [{"name": "s", "action": "uppercase", "input": "x"}]},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _burst(
    app: LiveApp, requests: list[tuple[str, str, dict[str, Any] | None]], headers: dict[str, str]
) -> list[httpx.Response]:
    """Send every request at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=app.base_url, timeout=30.0, limits=limits) as client:
        return list(
            await asyncio.gather(
                *(client.request(m, url, json=body, headers=headers) for m, url, body in requests)
            )
        )


def test_eight_concurrent_deletes_give_one_204_and_release_quota_once(live_app: LiveApp) -> None:
    tenant = new_tenant(live_app, workflow_limit=10)
    with live_app.client() as client:
        ids = [_create(client, tenant, f"wf{i}")["id"] for i in range(10)]
        assert workflows_used(client, tenant) == 10
    url = f"{API}/tenants/{tenant.slug}/workflows/{ids[0]}"
    responses = asyncio.run(_burst(live_app, [("DELETE", url, None)] * 8, bearer(tenant.admin)))
    assert sorted(r.status_code for r in responses) == [204] + [404] * 7
    with live_app.client() as client:
        assert workflows_used(client, tenant) == 9
        # Released once means the plan still holds: one slot free, then the limit again.
        _create(client, tenant, "refill")
        over = client.post(
            f"{API}/tenants/{tenant.slug}/workflows",
            headers=bearer(tenant.admin),
            json={"name": "one too many"},
        )
        assert over.status_code == 403, over.text
        listed = client.get(f"{API}/tenants/{tenant.slug}/workflows", headers=bearer(tenant.admin))
        assert listed.json()["total"] == 10


def test_executes_and_patches_racing_a_delete_never_answer_5xx(live_app: LiveApp) -> None:
    tenant = new_tenant(live_app)
    with live_app.client() as client:
        workflow_id = _create(client, tenant)["id"]
    url = f"{API}/tenants/{tenant.slug}/workflows/{workflow_id}"
    burst: list[tuple[str, str, dict[str, Any] | None]] = []
    for i in range(12):
        burst.append(("POST", f"{url}/execute", None))
        burst.append(("PATCH", url, {"description": f"edit {i}"}))
        if i == 4:
            burst.append(("DELETE", url, None))
    responses = asyncio.run(_burst(live_app, burst, bearer(tenant.admin)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 204, 404}, statuses
    assert statuses[204] == 1
    assert "Traceback" not in live_app.log().split(workflow_id, 1)[-1]
    with live_app.client() as client:
        gone = client.get(url, headers=bearer(tenant.admin))
        assert gone.status_code == 404
        assert workflows_used(client, tenant) == 0


def test_run_count_equals_successful_executes_and_version_counts_every_patch(
    live_app: LiveApp,
) -> None:
    tenant = new_tenant(live_app)
    with live_app.client() as client:
        workflow = _create(client, tenant)
    url = f"{API}/tenants/{tenant.slug}/workflows/{workflow['id']}"
    burst: list[tuple[str, str, dict[str, Any] | None]] = []
    for i in range(10):
        burst.append(("POST", f"{url}/execute", None))
        burst.append(("PATCH", url, {"description": f"edit {i}"}))
    responses = asyncio.run(_burst(live_app, burst, bearer(tenant.admin)))
    executes = [r for r in responses if r.request.url.path.endswith("/execute")]
    patches = [r for r in responses if r.request.method == "PATCH"]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    with live_app.client() as client:
        final = client.get(url, headers=bearer(tenant.admin)).json()
    assert final["run_count"] == sum(r.status_code == 200 for r in executes) == 10
    assert final["version"] == workflow["version"] + len(patches)


def test_a_patch_with_a_stale_if_match_is_a_409_and_changes_nothing(live_app: LiveApp) -> None:
    tenant = new_tenant(live_app)
    with live_app.client() as client:
        workflow = _create(client, tenant)
        url = f"{API}/tenants/{tenant.slug}/workflows/{workflow['id']}"
        version = workflow["version"]
        headers = {**bearer(tenant.admin), "If-Match": f'"{version}"'}
        first = client.patch(url, headers=headers, json={"description": "mine"})
        assert first.status_code == 200, first.text
        assert first.json()["version"] == version + 1
        stale = client.patch(url, headers=headers, json={"description": "lost"})
        assert stale.status_code == 409, stale.text
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert client.get(url, headers=bearer(tenant.admin)).json()["description"] == "mine"
        bad = client.patch(
            url, headers={**bearer(tenant.admin), "If-Match": "x<y>"}, json={"description": "?"}
        )
        assert bad.status_code == 422
        assert "x<y>" not in bad.text
