"""The metrics middleware and /metrics endpoint behind real FastAPI and Starlette apps."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from relaypoint_core.monitoring import PerformanceMonitor, track_api_metrics
from relaypoint_core.monitoring.asgi import MetricsMiddleware, health_app, metrics_app
from relaypoint_core.request_state import ResolvedTenant, set_scope_tenant
from tests.core.monitoring.support import call, label_values, private_monitor, value


class TenantStamp:
    """Stands in for the tenancy middleware: resolves the tenant from a header, as it would."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", ()))
            tenant = headers.get(b"x-tenant")
            if tenant is not None:
                tier = headers.get(b"x-plan", b"free").decode()
                set_scope_tenant(scope, ResolvedTenant(tenant.decode(), plan_tier=tier))
        await self.app(scope, receive, send)


def fastapi_app(monitor: PerformanceMonitor, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    workflows = APIRouter(prefix="/workflows")

    @workflows.get("/{workflow_id}")
    async def get_workflow(workflow_id: str) -> dict[str, str]:
        return {"id": workflow_id}

    @workflows.post("/")
    async def create_workflow() -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=201)

    app.include_router(workflows, prefix="/api/v1")

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise HTTPException(status_code=403)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler bug")

    @app.get("/sync-report")
    @track_api_metrics("/reports/custom-name")
    def sync_report() -> dict[str, bool]:
        return {"ok": True}

    tenant_app = FastAPI()

    @tenant_app.get("/ping/{n}")
    async def ping(n: int) -> int:
        return n

    app.mount("/t/{tenant}", tenant_app)
    app.add_route("/metrics", metrics_app(registry))
    # add_middleware puts the last one added outermost: TenantStamp runs first.
    app.add_middleware(MetricsMiddleware, monitor=monitor)
    app.add_middleware(TenantStamp)
    return app


async def scrape(app: Any, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get("/metrics", headers=headers)


async def test_fastapi_requests_are_counted_by_template_method_status_class_and_tier() -> None:
    monitor, registry = private_monitor()
    app = fastapi_app(monitor, registry)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        acme = {"x-tenant": "acme", "x-plan": "pro"}
        for workflow_id in ("a", "b", "c"):
            assert (
                await client.get(f"/api/v1/workflows/{workflow_id}", headers=acme)
            ).status_code == 200
        assert (await client.post("/api/v1/workflows/", headers=acme)).status_code == 201
        assert (await client.get("/items/7")).status_code == 200
        assert (await client.get("/items/not-a-number")).status_code == 422
        assert (await client.get("/forbidden")).status_code == 403
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/no/such/path")).status_code == 404
        assert (await client.get("/t/globex/ping/3")).status_code == 200
        assert (await client.get("/sync-report")).status_code == 200

    response = await scrape(app)
    assert response.status_code == 200
    # prometheus-client answers a scrape without an Accept header in text format 0.0.4.
    assert response.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
    text = response.text
    requests = "relaypoint_api_requests_total"
    assert (
        value(
            text,
            requests,
            route="/api/v1/workflows/{workflow_id}",
            method="GET",
            status_class="2xx",
            plan_tier="pro",
        )
        == 3
    )
    assert value(text, requests, route="/api/v1/workflows/", method="POST", status_class="2xx") == 1
    assert (
        value(text, requests, route="/items/{item_id}", status_class="2xx", plan_tier="unknown")
        == 1
    )
    assert value(text, requests, route="/items/{item_id}", status_class="4xx") == 1
    assert value(text, requests, route="/forbidden", status_class="4xx") == 1
    assert value(text, requests, route="/boom", status_class="5xx") == 1
    assert value(text, requests, route="__unmatched__", status_class="4xx") == 1
    assert value(text, requests, route="/t/{tenant}/ping/{n}", status_class="2xx") == 1
    # The decorator named the route and did not count the request a second time.
    assert value(text, requests, route="/reports/custom-name") == 1
    assert value(text, requests, route="/sync-report") == 0
    # Errors are the 5xx only; the scrape itself is not measured.
    assert value(text, "relaypoint_api_errors_total", route="/boom") == 1
    assert label_values(text, "relaypoint_api_errors_total", "route") == {"/boom"}
    assert "/metrics" not in label_values(text, requests, "route")
    assert (
        value(
            text,
            "relaypoint_api_request_duration_seconds_count",
            route="/api/v1/workflows/{workflow_id}",
            plan_tier="pro",
        )
        == 3
    )
    assert value(text, "relaypoint_api_requests_in_progress", method="GET") == 0
    assert not any("acme" in v or "globex" in v for v in label_values(text, requests, "route"))

    report = await monitor.get_performance_report(tenant_id="acme", time_window="1h")
    assert report.request_count == 4
    assert report.error_count == 0
    everyone = await monitor.get_performance_report(time_window="1h")
    assert everyone.request_count == 11
    assert everyone.error_count == 1


async def test_starlette_routes_mounts_and_unmatched_paths() -> None:
    monitor, registry = private_monitor()

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(
        routes=[
            Route("/users/{user_id}", hello),
            Mount("/admin", routes=[Route("/audit/{entry:int}", hello)]),
            Mount("/orgs/{org}", routes=[Mount("/teams", routes=[Route("/{team}", hello)])]),
            Mount("/static", app=PlainTextResponse("file")),
            Route("/metrics", metrics_app(registry)),
        ]
    )
    app.add_middleware(MetricsMiddleware, monitor=monitor)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for path in (
            "/users/1",
            "/users/2",
            "/admin/audit/5",
            "/orgs/acme/teams/blue",
            "/static/css/site.css",
            "/nope",
        ):
            await c.get(path)
        await c.post("/users/1")  # the route matches the path but not the method: 405
        await c.request("BREW", "/users/1")

    text = (await scrape(app)).text
    requests = "relaypoint_api_requests_total"
    assert value(text, requests, route="/users/{user_id}", method="GET") == 2
    assert value(text, requests, route="/users/{user_id}", method="POST", status_class="4xx") == 1
    assert value(text, requests, route="/users/{user_id}", method="OTHER") == 1
    assert value(text, requests, route="/admin/audit/{entry}") == 1
    assert value(text, requests, route="/orgs/{org}/teams/{team}") == 1
    assert value(text, requests, route="/static/{path}") == 1
    assert value(text, requests, route="__unmatched__", status_class="4xx") == 1


async def test_ten_thousand_distinct_raw_paths_add_no_label_values() -> None:
    monitor, registry = private_monitor()
    app = fastapi_app(monitor, registry)
    for index in range(100):
        await call(app, f"/items/{index}")
        await call(app, f"/missing/{uuid.uuid4().hex}")
    before = (await scrape(app)).text
    series_before = len(before.splitlines())
    for index in range(5_000):
        assert await call(app, f"/items/{100 + index}") == 200
        assert await call(app, f"/missing/{uuid.uuid4().hex}/{index}") == 404
    after = (await scrape(app)).text

    requests = "relaypoint_api_requests_total"
    assert label_values(after, requests, "route") == {"/items/{item_id}", "__unmatched__"}
    assert len(after.splitlines()) == series_before
    assert value(after, requests, route="/items/{item_id}") == 5_100
    assert value(after, requests, route="__unmatched__") == 5_100


async def test_plain_asgi_app_uses_decorator_route_or_unmatched() -> None:
    monitor, registry = private_monitor()

    @track_api_metrics("/hooks/{hook_id}", "POST")
    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def router(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"].startswith("/hooks/"):
            await endpoint(scope, receive, send)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    app = MetricsMiddleware(router, monitor=monitor)
    assert await call(app, "/hooks/123", "POST") == 204
    assert await call(app, "/elsewhere") == 404
    text = (await scrape(metrics_app(registry))).text
    assert (
        value(text, "relaypoint_api_requests_total", route="/hooks/{hook_id}", status_class="2xx")
        == 1
    )
    assert value(text, "relaypoint_api_requests_total", route="__unmatched__") == 1


async def test_app_that_never_responds_or_raises_counts_as_5xx() -> None:
    monitor, registry = private_monitor()

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("broken app")

    await call(MetricsMiddleware(silent, monitor=monitor), "/x")
    with pytest.raises(ValueError, match="broken app"):
        await call(MetricsMiddleware(broken, monitor=monitor), "/y")
    text = (await scrape(metrics_app(registry))).text
    assert (
        value(text, "relaypoint_api_errors_total", route="__unmatched__", status_class="5xx") == 2
    )
    assert value(text, "relaypoint_api_requests_in_progress", method="GET") == 0


async def test_metrics_endpoint_negotiates_format_compression_and_methods() -> None:
    _, registry = private_monitor()
    endpoint = metrics_app(registry)
    transport = httpx.ASGITransport(app=endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        openmetrics = await client.get("/", headers={"accept": "application/openmetrics-text"})
        assert openmetrics.headers["content-type"].startswith(OPENMETRICS_TYPE.split(";")[0])
        assert openmetrics.text.rstrip().endswith("# EOF")
        zipped = await client.get("/", headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert b"relaypoint_build_info" in zipped.content  # httpx already decompressed it
        raw = await client.get("/", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in raw.headers
        assert gzip.compress(raw.content)  # plain bytes
        head = await client.head("/")
        assert head.status_code == 200
        assert head.content == b""
        post = await client.post("/")
        assert post.status_code == 405
        assert post.headers["allow"] == "GET, HEAD"


async def test_health_endpoints_report_json_and_status_codes() -> None:
    monitor, _ = private_monitor()
    monitor.register_health_check("database", lambda: False)
    monitor.register_health_check("process", lambda: True, liveness=True, readiness=False)
    app = Starlette(
        routes=[
            Route("/health", health_app(monitor)),
            Route("/health/live", health_app(monitor, "liveness")),
            Route("/health/ready", health_app(monitor, "readiness")),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        live = await c.get("/health/live")
        ready = await c.get("/health/ready")
        full = await c.get("/health")
    assert live.status_code == 200
    assert live.json()["status"] == "healthy"
    assert set(live.json()["checks"]) == {"process"}
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["error"] == "check returned False"
    assert set(full.json()["checks"]) == {"process", "database"}
    with pytest.raises(ValueError, match="kind"):
        health_app(monitor, "sideways")  # type: ignore[arg-type]


async def test_wrapping_the_app_object_resolves_mounted_sub_app_templates() -> None:
    monitor, registry = private_monitor()
    outer = FastAPI()
    inner = FastAPI()

    @inner.get("/ping/{n}")
    async def ping(n: int) -> int:
        return n

    outer.mount("/t/{tenant}", inner)
    app = MetricsMiddleware(outer, monitor=monitor)
    for tenant in ("acme", "globex", "initech"):
        assert await call(app, f"/t/{tenant}/ping/1") == 200
    text = (await scrape(metrics_app(registry))).text
    assert label_values(text, "relaypoint_api_requests_total", "route") == {"/t/{tenant}/ping/{n}"}


async def test_in_progress_gauge_tracks_concurrent_requests_and_cancellations() -> None:
    monitor, registry = private_monitor()
    release = asyncio.Event()
    entered = 0

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        nonlocal entered
        entered += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = MetricsMiddleware(slow, monitor=monitor)
    tasks = [asyncio.ensure_future(call(app, f"/job/{i}")) for i in range(20)]
    while entered < 20:
        await asyncio.sleep(0)  # a yield: let every request reach the app
    in_progress = {"method": "GET"}
    assert registry.get_sample_value("relaypoint_api_requests_in_progress", in_progress) == 20
    tasks[0].cancel()  # the client went away before any response
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert registry.get_sample_value("relaypoint_api_requests_in_progress", in_progress) == 19
    release.set()
    assert await asyncio.gather(*tasks[1:]) == [200] * 19
    assert registry.get_sample_value("relaypoint_api_requests_in_progress", in_progress) == 0
    text = (await scrape(metrics_app(registry))).text
    assert value(text, "relaypoint_api_requests_total", status_class="2xx") == 19
    assert value(text, "relaypoint_api_requests_total", status_class="4xx") == 1  # 499
    assert value(text, "relaypoint_api_errors_total") == 0
