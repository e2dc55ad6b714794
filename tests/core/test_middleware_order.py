"""The canonical middleware order is enforced: one test per documented misordering."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from relaypoint_core.auth.asgi import AuthenticationMiddleware
from relaypoint_core.auth.keys import KeyRing
from relaypoint_core.auth.service import AuthService
from relaypoint_core.auth.users import InMemoryUserDirectory
from relaypoint_core.monitoring import PerformanceMonitor
from relaypoint_core.monitoring.asgi import MetricsMiddleware
from relaypoint_core.stack import MiddlewareOrderError
from relaypoint_ratelimit import EnterpriseRateLimiter
from relaypoint_tenancy import TenantRecord, TenantResolutionMiddleware, TenantResolver


class Lookup:
    async def by_key(self, key: str) -> TenantRecord | None:
        return TenantRecord("t-1", "acme", "FREE", "active") if key == "acme" else None

    async def by_domain(self, domain: str) -> TenantRecord | None:
        return None


def _layers() -> dict[str, tuple[type[Any], dict[str, Any]]]:
    from prometheus_client import CollectorRegistry

    from relaypoint_core.monitoring.metrics import RelayPointMetrics

    auth = AuthService(keys=KeyRing.from_secret("s" * 40), users=InMemoryUserDirectory())
    monitor = PerformanceMonitor(metrics=RelayPointMetrics(registry=CollectorRegistry()))
    return {
        "metrics": (MetricsMiddleware, {"monitor": monitor}),
        "authentication": (AuthenticationMiddleware, {"auth_service": auth}),
        "rate_limit": (EnterpriseRateLimiter, {}),
        "tenancy": (
            TenantResolutionMiddleware,
            {"resolver": TenantResolver(Lookup(), sources=("header", "token"))},
        ),
    }


def build(outermost_first: list[str]) -> Starlette:
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", home)])
    layers = _layers()
    for name in reversed(outermost_first):  # add_middleware: innermost first
        klass, options = layers[name]
        app.add_middleware(klass, **options)
    return app


async def call(app: Starlette) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/", headers={"X-Tenant-ID": "acme"})


async def test_the_canonical_order_serves() -> None:
    app = build(["metrics", "authentication", "rate_limit", "tenancy"])
    for _ in range(3):
        assert (await call(app)).status_code == 200


@pytest.mark.parametrize(
    ("order", "inner"),
    [
        (["rate_limit", "authentication", "tenancy"], "rate_limit"),  # limiter outside auth
        (["tenancy", "authentication"], "tenancy"),  # tenancy outside auth
        (["authentication", "tenancy", "rate_limit"], "tenancy"),  # tenancy outside the limiter
        (["authentication", "metrics"], "authentication"),  # metrics inside another layer
    ],
    ids=[
        "limiter-outside-auth",
        "tenancy-outside-auth",
        "tenancy-outside-limiter",
        "metrics-inside",
    ],
)
async def test_each_documented_misordering_is_refused_and_stays_refused(
    order: list[str], inner: str
) -> None:
    app = build(order)
    for _ in range(2):  # not only the first request: the refusal is sticky
        with pytest.raises(MiddlewareOrderError) as caught:
            await call(app)
        assert caught.value.inner == inner
        assert "metrics -> authentication -> rate_limit -> tenancy" in str(caught.value)
