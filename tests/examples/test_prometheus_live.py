"""A real Prometheus scrapes the app (PostgreSQL + Redis) and a node-exporter under scripted
traffic; every PromQL expression of the alert rules and of every dashboard panel returns data."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from relaypoint_core.monitoring.assets import alert_rules_text, dashboard_names, load_dashboard
from tests.examples.conftest import LiveApp
from tests.support.services import free_port
from tests.support.tools import require_tool

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
SCRAPE_SECONDS = 1
TRAFFIC_SECONDS = 8.0
# Grafana's interval variables, as a dashboard on this short scrape interval would resolve them.
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "5m"}


def alert_signal(expr: str) -> str:
    """An alert's expression without its threshold and its volume guard: the series it watches.

    ``(ratio) > 0.01 and sum(rate(x[5m])) > 0.1`` becomes ``(ratio)``, which has data whether or
    not the alert fires.
    """
    text = " ".join(expr.split())
    depth = 0
    for index, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and text.startswith(" and ", index):
            text = text[:index]
            break
    return re.sub(r"\s*(?:>=|<=|==|!=|>|<)\s*[0-9.]+\s*$", "", text)


def expressions() -> dict[str, str]:
    found: dict[str, str] = {}
    for group in yaml.safe_load(alert_rules_text())["groups"]:
        for rule in group["rules"]:
            found[f"alert {rule['alert']}"] = alert_signal(rule["expr"])
    for name in dashboard_names():
        for panel in load_dashboard(name)["panels"]:
            for index, target in enumerate(panel.get("targets", [])):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found[f"{name} / {panel['title']} #{index}"] = expr
    return found


def test_alert_signal_drops_threshold_and_guard() -> None:
    assert alert_signal("(a / b) > 0.01\n and sum(rate(c[5m])) > 0.1") == "(a / b)"
    assert alert_signal("x / (y > 0) > 0.9") == "x / (y > 0)"
    assert alert_signal('up{job=~".*rp.*"} == 0') == 'up{job=~".*rp.*"}'


class Process:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.process = subprocess.Popen(args, stdout=self._file, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self._file.close()


def wait_for(url: str, process: Process, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(process.log.read_text(errors="replace"))
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer:\n{process.log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def prometheus(servers_app: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    prometheus_bin = require_tool("prometheus")
    exporter_bin = require_tool("prometheus-node-exporter")
    workdir = tmp_path_factory.mktemp("prometheus")
    exporter_port = free_port()
    exporter = Process(
        [str(exporter_bin), f"--web.listen-address=127.0.0.1:{exporter_port}"],
        workdir / "node-exporter.log",
    )
    processes = [exporter]
    try:
        wait_for(f"http://127.0.0.1:{exporter_port}/metrics", exporter)
        app_target = httpx.URL(servers_app.base_url)
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "relaypoint",
                    "static_configs": [{"targets": [f"{app_target.host}:{app_target.port}"]}],
                },
                {
                    "job_name": "node",
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                },
            ],
        }
        (workdir / "alerts.yml").write_text(alert_rules_text())
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        server = Process(
            [
                str(prometheus_bin),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            workdir / "prometheus.log",
        )
        processes.append(server)
        wait_for(f"http://127.0.0.1:{port}/-/ready", server)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in reversed(processes):
            process.stop()


def scripted_traffic(app: LiveApp) -> None:
    """Logins (good and bad), a registration, workflow writes, cached reads, runs and a 404."""
    root = app.session("super_admin@acme.example")["access_token"]
    slug = f"prom{uuid.uuid4().hex[:8]}"
    with app.client() as client:
        created = client.post(
            "/api/v1/tenants",
            headers={"Authorization": f"Bearer {root}"},
            json={
                "name": "Prom Co",
                "slug": slug,
                "plan_tier": "ENTERPRISE",
                "admin_email": f"admin@{slug}.example",
                "admin_name": "Prom admin",
                "admin_password": "prometheus test password",
            },
        )
        assert created.status_code == 201, created.text
        token = app.login(f"admin@{slug}.example", slug, "prometheus test password")
        headers = {"Authorization": f"Bearer {token['access_token']}", "X-Tenant-ID": slug}
        bad = client.post(
            "/api/v1/auth/login",
            json={"email": f"admin@{slug}.example", "password": "wrong password"},
            headers={"X-Tenant-ID": slug},
        )
        assert bad.status_code == 401
        deadline = time.monotonic() + TRAFFIC_SECONDS
        while time.monotonic() < deadline:
            made = client.post(
                "/api/v1/workflows",
                headers=headers,
                json={"name": "scraped", "steps": [{"name": "a", "action": "noop"}]},
            )
            assert made.status_code == 201, made.text
            workflow = made.json()["id"]
            for _ in range(3):
                assert client.get("/api/v1/workflows", headers=headers).status_code == 200
                assert client.get(f"/api/v1/workflows/{workflow}", headers=headers).is_success
            ran = client.post(f"/api/v1/workflows/{workflow}/execute", headers=headers)
            assert ran.status_code in (200, 201, 202), ran.text
            assert (
                client.get(f"/api/v1/workflows/{uuid.uuid4()}", headers=headers).status_code == 404
            )
            time.sleep(0.2)
        app.login(f"admin@{slug}.example", slug, "prometheus test password")


def query(prometheus: str, expr: str) -> list[object]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    assert response.status_code == 200, f"{expr}: {response.text}"
    payload = response.json()
    assert payload["status"] == "success", payload
    result: list[object] = payload["data"]["result"]
    return result


def test_every_alert_and_panel_expression_returns_data(
    servers_app: LiveApp, prometheus: str
) -> None:
    scripted_traffic(servers_app)
    time.sleep(3 * SCRAPE_SECONDS)  # the last requests reach a scrape, and a rate has 2 points
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
    health = {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}
    assert health == {"relaypoint": "up", "node": "up"}, targets
    empty = {name: expr for name, expr in expressions().items() if not query(prometheus, expr)}
    assert not empty, "\n".join(f"{name}: {expr}" for name, expr in empty.items())
