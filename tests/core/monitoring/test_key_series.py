"""What the production dashboards need from the SDK's metrics: key series at zero from start-up,
refused requests under their route template, lookups that find nothing not counted as DB errors."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from relaypoint_core.monitoring import RelayPointMetrics, track_db_query
from relaypoint_core.monitoring.asgi import MetricsMiddleware
from relaypoint_core.monitoring.metrics import declare_db_query
from relaypoint_core.monitoring.route_templates import TemplateMatcher
from tests.core.monitoring.support import call, private_monitor, value


def scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_workflow_outcomes_exist_at_zero() -> None:
    registry = CollectorRegistry()
    RelayPointMetrics(registry)
    text = scrape(registry)
    for status in ("success", "failure"):
        assert f'relaypoint_workflows_executed_total{{status="{status}"}} 0.0' in text


def test_declared_query_sites_exist_at_zero_on_every_metrics_set() -> None:
    before = CollectorRegistry()
    existing = RelayPointMetrics(before)
    declare_db_query("SELECT", "zero_series_probe")
    after = CollectorRegistry()
    later = RelayPointMetrics(after)
    assert existing.registry is before
    assert later.registry is after
    for registry in (before, after):
        text = scrape(registry)
        assert (
            'relaypoint_db_query_duration_seconds_count{operation="SELECT",table="zero_series_probe"} 0.0'
            in text
        )
        assert (
            'relaypoint_db_query_errors_total{operation="SELECT",table="zero_series_probe"} 0.0'
            in text
        )


async def test_a_lookup_that_finds_nothing_is_timed_but_not_a_db_error() -> None:
    monitor, registry = private_monitor()

    @track_db_query("SELECT", "things", monitor=monitor)
    async def find() -> None:
        raise KeyError("no such thing")

    @track_db_query("SELECT", "things", monitor=monitor)
    async def broken() -> None:
        raise ConnectionError("database went away")

    with pytest.raises(KeyError):
        await find()
    labels = {"operation": "SELECT", "table": "things"}
    text = scrape(registry)
    assert value(text, "relaypoint_db_query_duration_seconds_count", **labels) == 1
    assert value(text, "relaypoint_db_query_errors_total", **labels) == 0
    with pytest.raises(ConnectionError):
        await broken()
    assert value(scrape(registry), "relaypoint_db_query_errors_total", **labels) == 1


def test_template_matcher_prefers_literal_templates() -> None:
    matcher = TemplateMatcher(lambda: ["/w/{id}", "/w/stats", "/t/{tenant}/w/{id}"])
    assert matcher.match("/w/stats") == "/w/stats"
    assert matcher.match("/w/42") == "/w/{id}"
    assert matcher.match("/t/acme/w/7") == "/t/{tenant}/w/{id}"
    assert matcher.match("/w/42/extra") is None
    assert matcher.match("/nope") is None


async def refuse(scope: Any, receive: Any, send: Any) -> None:
    """An outer middleware's refusal: answers 429 before any router runs."""
    await send({"type": "http.response.start", "status": 429, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("path", "route"),
    [("/api/items/17", "/api/items/{item_id}"), ("/elsewhere", "__unmatched__")],
)
async def test_refused_requests_carry_their_route_template(path: str, route: str) -> None:
    monitor, registry = private_monitor()
    app = MetricsMiddleware(refuse, monitor=monitor, route_templates=["/api/items/{item_id}"])
    assert await call(app, path) == 429
    text = scrape(registry)
    assert value(text, "relaypoint_api_requests_total", route=route, status_class="4xx") == 1


async def test_a_successful_login_is_counted_by_the_auth_service() -> None:
    from relaypoint_core.auth import AuthService, InMemoryUserDirectory, KeyRing, UserRecord
    from relaypoint_core.auth.errors import InvalidCredentialsError
    from relaypoint_core.auth.passwords import hash_password

    monitor, registry = private_monitor()
    password = "correct horse battery staple"
    users = InMemoryUserDirectory(
        [UserRecord("u-1", "a@acme.test", hash_password(password), "acme", ("user",), True, "PRO")]
    )
    service = AuthService(
        keys=KeyRing.from_secret("k" * 16 + "Q9x!" * 8), users=users, monitor=monitor
    )
    try:
        with pytest.raises(InvalidCredentialsError):
            await service.login("a@acme.test", "wrong password", tenant_id="acme")
        assert value(scrape(registry), "relaypoint_user_logins_total", plan_tier="PRO") == 0
        await service.login("a@acme.test", password, tenant_id="acme")
        assert value(scrape(registry), "relaypoint_user_logins_total", plan_tier="PRO") == 1
    finally:
        await service.aclose()
