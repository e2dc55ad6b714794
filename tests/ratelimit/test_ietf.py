"""draft-ietf-httpapi-ratelimit-headers-11 conformance: every header parses as a structured field
(http_sfv), problem types are the IANA ones, no fields on 3xx or on fail-open, cost units, and the
draft-12 parameter names on request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from prometheus_client import CollectorRegistry

from relaypoint_core.testing import FakeClock
from relaypoint_ratelimit import EnterpriseRateLimiter, RoutePolicy, TierSet
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.sfv import parse_all, parse_list
from tests.ratelimit.test_middleware import FakeAuth, client

SMALL = TierSet.from_mapping({"FREE": "3/minute; 50/hour", "STARTER": "10/minute"})
QUOTA = "https://iana.org/assignments/http-problem-types#quota-exceeded"
CAPACITY = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"


def app_with(**options: Any) -> Any:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/moved")
    async def moved() -> RedirectResponse:
        return RedirectResponse("/hello", status_code=307)

    @app.post("/export")
    async def export() -> dict[str, str]:
        return {"export": "started"}

    options.setdefault("metrics", RateLimitMetrics(CollectorRegistry()))
    options.setdefault("clock", FakeClock())
    return FakeAuth(EnterpriseRateLimiter(app, **options))


async def test_every_header_of_admitted_and_refused_responses_is_a_structured_field() -> None:
    app = app_with(tiers=SMALL)
    async with client(app) as http:
        responses = [await http.get("/hello", headers={"x-user": "sf"}) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    for response in responses:
        parsed = parse_all(response.headers)
        assert parsed["ratelimit-policy"] == {
            "user.minute": {"q": 3, "w": 60},
            "user.hour": {"q": 50, "w": 3600},
        }
        assert parsed["x-ratelimit-tier"] == "FREE"
    remaining = [parse_list(r.headers["ratelimit"])["user.minute"]["r"] for r in responses]
    assert remaining == [2, 1, 0, 0]
    refused = parse_all(responses[-1].headers)
    state = refused["ratelimit"]
    assert isinstance(state, dict)
    assert refused["retry-after"] == state["user.minute"]["t"]


async def test_a_429_is_the_quota_exceeded_problem_with_violated_policies_names() -> None:
    app = app_with(tiers=SMALL)
    async with client(app) as http:
        for _ in range(3):
            await http.get("/hello", headers={"x-user": "p"})
        refused = await http.get("/hello", headers={"x-user": "p"})
    body = refused.json()
    assert body["type"] == QUOTA
    assert body["violated-policies"] == ["user.minute"]
    assert body["status"] == 429
    assert body["instance"] == "/hello"
    # RelayPoint's richer members stay, as extensions.
    assert body["violated_policies"][0]["limit"] == 3
    assert body["upgrade"]["tier"] == "STARTER"


async def test_fail_closed_is_a_503_temporary_reduced_capacity_problem() -> None:
    app = app_with(tiers=SMALL, redis_url="redis://127.0.0.1:1/0", fault_policy="closed")
    async with client(app) as http:
        response = await http.get("/hello", headers={"x-user": "c"})
    assert response.status_code == 503
    assert response.json()["type"] == CAPACITY
    parsed = parse_all(response.headers)
    assert set(parsed) == {"retry-after"}


async def test_fail_open_sends_no_rate_limit_header_at_all() -> None:
    app = app_with(tiers=SMALL, redis_url="redis://127.0.0.1:1/0", fault_policy="open")
    async with client(app) as http:
        response = await http.get("/hello", headers={"x-user": "o"})
    assert response.status_code == 200
    assert parse_all(response.headers) == {}


async def test_no_rate_limit_fields_on_a_redirect() -> None:
    app = app_with(tiers=SMALL)
    async with client(app) as http:
        moved = await http.get("/moved", headers={"x-user": "r"})
        after = await http.get("/hello", headers={"x-user": "r"})
    assert moved.status_code == 307
    assert parse_all(moved.headers) == {}
    # The redirect was still counted: limits count requests, whatever their status.
    assert parse_list(after.headers["ratelimit"])["user.minute"]["r"] == 1


async def test_q_and_r_count_cost_units_not_requests() -> None:
    export = RoutePolicy("export", "20/minute", path_prefixes=["/export"], cost=5)
    app = app_with(tiers=TierSet.from_mapping({"FREE": "100/minute"}), route_policies=[export])
    async with client(app) as http:
        first = await http.post("/export", headers={"x-user": "u"})
        second = await http.post("/export", headers={"x-user": "u"})
    assert parse_list(first.headers["ratelimit-policy"])["route.export.minute"]["q"] == 20
    assert parse_list(first.headers["ratelimit"])["route.export.minute"]["r"] == 15
    assert parse_list(second.headers["ratelimit"])["route.export.minute"]["r"] == 10
    assert parse_list(second.headers["ratelimit"])["user.minute"]["r"] == 90


async def test_draft_12_syntax_renames_remaining_and_reset() -> None:
    app = app_with(tiers=SMALL, header_syntax="draft-12")
    async with client(app) as http:
        response = await http.get("/hello", headers={"x-user": "d12"})
    state = parse_list(response.headers["ratelimit"])
    assert set(state["user.minute"]) == {"a", "w"}
    assert state["user.minute"]["a"] == 2
    assert parse_list(response.headers["ratelimit-policy"])["user.minute"] == {"q": 3, "w": 60}
