"""The app under the ConfigMap's environment: probes and scrapes with a pod-IP ``Host`` answer,
while the API still refuses hosts outside ``ALLOWED_HOSTS``."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.examples.conftest import LiveApp, start_app, stop_app

CONFIGMAP = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "configmap.yaml"
POD_IP_HOST = "10.12.3.45:8000"


def configmap_environment() -> dict[str, str]:
    document = yaml.safe_load(CONFIGMAP.read_text())
    return {str(k): str(v) for k, v in document["data"].items()}


@pytest.fixture(scope="module")
def production_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    env = configmap_environment()
    assert env["ENVIRONMENT"] == "production"
    # Loopback instead of 0.0.0.0/8000 so the test binds a free local port; the rest as deployed.
    env.pop("RELAYPOINT_HOST")
    env.pop("RELAYPOINT_PORT")
    env["SECRET_KEY"] = secrets.token_urlsafe(48)
    app = start_app("production", tmp_path_factory.mktemp("app-production"), env)
    try:
        yield app
    finally:
        stop_app(app)


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_probes_answer_a_pod_ip_host(production_app: LiveApp, path: str) -> None:
    with production_app.client() as client:
        response = client.get(path, headers={"Host": POD_IP_HOST})
    assert response.status_code == 200, response.text
    if path == "/metrics":
        assert "relaypoint_api_requests_total" in response.text


def test_the_api_still_refuses_hosts_outside_the_allow_list(production_app: LiveApp) -> None:
    with production_app.client() as client:
        refused = client.get("/api/v1/workflows", headers={"Host": POD_IP_HOST})
        scrape_write = client.post("/metrics", headers={"Host": POD_IP_HOST})
        allowed = client.get("/api/v1/workflows", headers={"Host": "api.relaypoint.ai"})
    assert refused.status_code == 400
    assert scrape_write.status_code == 400
    # A listed host reaches the API, which then asks for credentials.
    assert allowed.status_code == 401


def test_configmap_settings_are_in_force(production_app: LiveApp) -> None:
    with production_app.client() as client:
        response = client.get("/health", headers={"Host": POD_IP_HOST})
    assert response.status_code == 400  # the full health report is not a probe path


SEED_KEY_METRICS = (
    "relaypoint_api_request_duration_seconds_count",
    "relaypoint_db_query_duration_seconds_count",
    "relaypoint_cache_hits_total",
    "relaypoint_workflows_executed_total",
)


def test_the_seed_key_metrics_exist_before_any_business_traffic(production_app: LiveApp) -> None:
    """Only probes have reached this app; every key metric already has a sample to scrape."""
    with production_app.client() as client:
        text = client.get("/metrics", headers={"Host": POD_IP_HOST}).text
    for name in SEED_KEY_METRICS:
        assert any(line.startswith(f"{name}{{") for line in text.splitlines()), name


def test_a_request_refused_before_routing_is_counted_under_its_route_template(
    production_app: LiveApp,
) -> None:
    """The authentication middleware answers 401 before the router runs: the metric still names
    the route the request aimed at, never the raw path and not ``__unmatched__``."""
    host = {"Host": "api.relaypoint.ai"}
    with production_app.client() as client:
        refused = client.get("/api/v1/workflows/5f0c1b0e-0000-4000-8000-000000000001", headers=host)
        text = client.get("/metrics", headers={"Host": POD_IP_HOST}).text
    assert refused.status_code == 401
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("relaypoint_api_requests_total{")
        and 'route="/api/v1/workflows/{workflow_id}"' in line
        and 'status_class="4xx"' in line
    ]
    assert counted, text
    assert "5f0c1b0e-0000" not in text
