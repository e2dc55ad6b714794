"""The ASGI middleware under FastAPI and plain Starlette: headers, 429 body, passthrough."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from relaypoint_core.request_state import (
    Principal,
    ResolvedTenant,
    set_scope_principal,
    set_scope_tenant,
)
from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import EnterpriseRateLimiter, Identity, RoutePolicy, TierSet
from relaypoint_ratelimit.fastapi import install_problem_handler, rate_limit
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.sfv import parse_list

SMALL = TierSet.from_mapping({"FREE": "2/minute; 5/hour", "STARTER": "10/minute; 50/hour"})


def parse_sf_list(value: str) -> dict[str, dict[str, object]]:
    """The draft's lists of ``"name";key=int`` items, parsed by http_sfv."""
    return parse_list(value)


class FakeAuth:
    """Stands where the auth and tenancy middlewares stand: puts principal and tenant in the scope."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            user = headers.get(b"x-user")
            if user:
                tenant = headers.get(b"x-tenant", b"").decode() or None
                set_scope_principal(scope, Principal(user.decode(), tenant))
                if tenant:
                    plan = headers.get(b"x-plan", b"").decode() or None
                    set_scope_tenant(scope, ResolvedTenant(tenant, plan_tier=plan))
        await self.app(scope, receive, send)


def fastapi_app(**options: Any) -> tuple[Any, EnterpriseRateLimiter]:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    limiter = EnterpriseRateLimiter(
        app, metrics=RateLimitMetrics(CollectorRegistry()), clock=FakeClock(), **options
    )
    return FakeAuth(limiter), limiter


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_zero_configuration_limits_anonymous_clients_on_the_free_tier() -> None:
    app, _ = fastapi_app()
    async with client(app) as http:
        response = await http.get("/hello")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}
    h = response.headers
    assert h["x-ratelimit-limit"] == "60"
    assert h["x-ratelimit-remaining"] == "59"
    assert h["x-ratelimit-tier"] == "FREE"
    assert 0 < int(h["x-ratelimit-reset"]) <= 63
    policy = parse_sf_list(h["ratelimit-policy"])
    assert policy == {
        "user.minute": {"q": 60, "w": 60},
        "user.hour": {"q": 1000, "w": 3600},
        "user.day": {"q": 10000, "w": 86400},
    }
    state = parse_sf_list(h["ratelimit"])
    assert {name: s["r"] for name, s in state.items()} == {
        "user.minute": 59,
        "user.hour": 999,
        "user.day": 9999,
    }
    assert "retry-after" not in h


async def test_headers_follow_the_most_constraining_policy_and_429_is_a_problem() -> None:
    app, _ = fastapi_app(tiers=SMALL)
    async with client(app) as http:
        first = await http.get("/hello", headers={"x-user": "u1"})
        second = await http.get("/hello", headers={"x-user": "u1"})
        refused = await http.get("/hello", headers={"x-user": "u1"})
        other = await http.get("/hello", headers={"x-user": "u2"})
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert other.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == "2"
    retry = int(refused.headers["retry-after"])
    assert 0 < retry <= 63
    assert refused.headers["x-ratelimit-reset"] == str(retry)
    state = parse_sf_list(refused.headers["ratelimit"])
    assert state["user.minute"]["r"] == 0
    assert state["user.hour"]["r"] == 3
    body = refused.json()
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    assert body["retry_after"] == retry
    assert [p["name"] for p in body["violated_policies"]] == ["user.minute"]
    assert body["violated_policies"][0]["limit"] == 2
    assert body["upgrade"]["tier"] == "STARTER"
    assert body["upgrade"]["limits"][0] == {"window": "minute", "window_seconds": 60, "limit": 10}
    assert "STARTER" in body["upgrade"]["message"]


async def test_tenant_plan_tier_bounds_the_whole_tenant() -> None:
    tiers = TierSet.from_mapping({"FREE": "5/minute", "TEAM": "3/minute", "BIG": "100/minute"})
    app, _ = fastapi_app(tiers=tiers)
    async with client(app) as http:
        codes = [
            (
                await http.get(
                    "/hello", headers={"x-user": f"u{i}", "x-tenant": "acme", "x-plan": "team"}
                )
            ).status_code
            for i in range(4)
        ]
        last = await http.get(
            "/hello", headers={"x-user": "u9", "x-tenant": "acme", "x-plan": "team"}
        )
    assert codes == [200, 200, 200, 429]
    body = last.json()
    assert [p["name"] for p in body["violated_policies"]] == ["tenant.minute"]
    assert body["upgrade"]["tier"] == "BIG"
    assert body["upgrade"]["scope"] == "tenant"
    assert last.headers["x-ratelimit-tier"] == "TEAM"


async def test_route_policies_by_path_prefix_with_cost() -> None:
    export = RoutePolicy("export", "4/minute", path_prefixes=["/hello"], cost=2)
    tiers = TierSet.from_mapping({"FREE": "100/minute"})
    app, _ = fastapi_app(tiers=tiers, route_policies=[export])
    async with client(app) as http:
        ok1 = await http.get("/hello", headers={"x-user": "a"})
        ok2 = await http.get("/hello", headers={"x-user": "a"})
        refused = await http.get("/hello", headers={"x-user": "a"})
    assert (ok1.status_code, ok2.status_code, refused.status_code) == (200, 200, 429)
    assert parse_sf_list(ok2.headers["ratelimit"])["user.minute"]["r"] == 96
    assert [p["name"] for p in refused.json()["violated_policies"]] == ["route.export.minute"]
    assert refused.json()["upgrade"] is None  # a route limit is not lifted by a plan upgrade


async def test_plain_starlette_app_with_add_middleware() -> None:
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi", headers={"x-app": "1"})

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(
        EnterpriseRateLimiter,
        tiers=SMALL,
        metrics=RateLimitMetrics(CollectorRegistry()),
        exempt_paths=["/health"],
    )
    async with client(app) as http:
        responses = [await http.get("/") for _ in range(3)]
        health = await http.get("/health")
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].text == "hi"
    assert responses[0].headers["x-app"] == "1"
    assert responses[0].headers["x-ratelimit-limit"] == "2"
    assert responses[2].headers["content-type"] == "application/problem+json"
    assert "x-ratelimit-limit" not in health.headers


async def test_websocket_and_lifespan_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    limiter = EnterpriseRateLimiter(
        inner,
        tiers=TierSet.from_mapping({"FREE": "1/hour"}),
        metrics=RateLimitMetrics(CollectorRegistry()),
    )

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        raise AssertionError("the middleware must not send on a passthrough scope")

    for scope_type in ("websocket", "lifespan", "websocket"):
        scope: dict[str, Any] = {
            "type": scope_type,
            "path": "/ws",
            "headers": [],
            "client": ("1.2.3.4", 5),
        }
        frozen = json.dumps(scope, sort_keys=True)
        await limiter(scope, receive, send)
        assert seen[-1][0] is scope
        assert seen[-1][1] is receive
        assert seen[-1][2] is send
        assert json.dumps(scope, sort_keys=True) == frozen
    assert len(seen) == 3


async def test_fail_closed_answers_503_with_retry_after() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be called")

    limiter = EnterpriseRateLimiter(
        inner,
        redis_url="redis://127.0.0.1:1/0",
        fault_policy="closed",
        timeout=0.05,
        metrics=RateLimitMetrics(CollectorRegistry()),
    )
    async with client(limiter) as http:
        response = await http.get("/x")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["status"] == 503


async def test_fastapi_dependency_limits_one_route() -> None:
    app = FastAPI()
    install_problem_handler(app)
    limiter = EnterpriseRateLimiter(app, metrics=RateLimitMetrics(CollectorRegistry()))
    export_limit = rate_limit(limiter, "2/minute", name="export")

    @app.post("/export", dependencies=[Depends(export_limit)])
    async def export() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/free")
    async def free() -> dict[str, bool]:
        return {"ok": True}

    async with client(FakeAuth(limiter)) as http:
        codes = [
            (await http.post("/export", headers={"x-user": "d"})).status_code for _ in range(3)
        ]
        ok = await http.post("/export", headers={"x-user": "e"})
        refused = await http.post("/export", headers={"x-user": "d"})
        free_response = await http.get("/free", headers={"x-user": "d"})
    assert codes == [200, 200, 429]
    assert ok.status_code == 200
    assert "route.export.minute" in ok.headers["ratelimit-policy"]
    assert "user.minute" in ok.headers["ratelimit-policy"]  # the middleware's own items too
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["violated_policies"][0]["name"] == "route.export.minute"
    assert int(refused.headers["retry-after"]) >= 1
    assert free_response.status_code == 200


async def test_seed_api_on_the_middleware() -> None:
    app, limiter = fastapi_app(tiers=SMALL)
    await limiter.startup()
    await limiter.set_user_tier("u7", "starter")
    async with client(app) as http:
        response = await http.get("/hello", headers={"x-user": "u7"})
    assert response.headers["x-ratelimit-tier"] == "STARTER"
    assert response.headers["x-ratelimit-limit"] == "10"
    stats = await limiter.get_usage_stats("u7")
    assert stats.tier == "STARTER"
    assert [(w.name, w.used, w.remaining) for w in stats.windows] == [
        ("user.minute", 1, 9),
        ("user.hour", 1, 49),
    ]


async def test_custom_async_resolver_and_opting_out() -> None:
    async def resolver(scope: MutableMapping[str, Any]) -> Identity | None:
        if scope["path"] == "/hello":
            return Identity("key-" + dict(scope["headers"]).get(b"x-api-key", b"none").decode())
        return None

    app, _ = fastapi_app(tiers=SMALL, identity_resolver=resolver)
    async with client(app) as http:
        codes = [
            (await http.get("/hello", headers={"x-api-key": "k"})).status_code for _ in range(3)
        ]
        untracked = await http.get("/nothing")
    assert codes == [200, 200, 429]
    assert "x-ratelimit-limit" not in untracked.headers


def test_bad_middleware_configuration_fails_at_construction() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(ValueError, match="path_prefixes"):
        EnterpriseRateLimiter(inner, route_policies=[RoutePolicy("x", "1/minute")])
    with pytest.raises(ValueError, match="fault_policy"):
        EnterpriseRateLimiter(inner, fault_policy="sometimes")
    with pytest.raises(ValueError, match="unknown rate-limit tier"):
        EnterpriseRateLimiter(inner, default_tier="GOLD")


async def test_header_fast_path_matches_the_general_path() -> None:
    from relaypoint_ratelimit import Identity, RateLimiter
    from relaypoint_ratelimit.headers import rate_limit_headers

    clock = FakeClock()
    limiter = RateLimiter(
        tiers=TierSet.from_mapping({"FREE": "5/second; 7/minute; 50/hour"}),
        clock=clock,
        metrics=RateLimitMetrics(CollectorRegistry()),
        memo_refusals=False,
    )
    tenant = Identity("u", tenant_id="acme", tenant_tier="FREE")
    for step in range(12):
        decision = await limiter.check(tenant if step % 3 else Identity("u"))
        general = decision.replace(policies=decision.policies)  # no raw answer: the general path
        assert general.raw is None
        assert rate_limit_headers(decision) == rate_limit_headers(general)
        clock.advance(0.35)
