"""The deployment files parse and reference what really exists: module, settings, paths, ports."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from examples.app.settings import APP_ENVIRONMENT_VARIABLES

from relaypoint_core.config import RelayPointSettings
from tests.examples.conftest import LiveApp

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
APP_PORT = 8000


def known_environment_variables() -> set[str]:
    return set(RelayPointSettings.model_fields) | set(APP_ENVIRONMENT_VARIABLES)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_objects() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml_documents(path):
            objects[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return objects


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    return env


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_entrypoint_runs_the_reference_app_module() -> None:
    entrypoints = [rest for keyword, rest in dockerfile_instructions() if keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    command = yaml.safe_load(entrypoints[0])  # exec form is a JSON (hence YAML) list
    assert command[:2] == ["python", "-m"]
    module = command[2]
    assert importlib.util.find_spec(f"{module}.__main__") is not None, module


def test_dockerfile_copies_only_existing_paths_and_exposes_the_app_port() -> None:
    instructions = dockerfile_instructions()
    for keyword, rest in instructions:
        if keyword == "COPY":
            *sources, _target = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
    exposed = [int(rest) for keyword, rest in instructions if keyword == "EXPOSE"]
    assert exposed == [APP_PORT]
    env = dockerfile_env()
    assert int(env["RELAYPOINT_PORT"]) == APP_PORT
    assert (
        set(env)
        - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
        - {n for n in env if n.startswith("PIP_")}
        <= known_environment_variables()
    )
    health = next(rest for keyword, rest in instructions if keyword == "HEALTHCHECK")
    assert f"127.0.0.1:{APP_PORT}/health/live" in health
    assert any(keyword == "USER" and rest != "root" for keyword, rest in instructions)


# --- docker compose -----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.dev.yml").read_text())


def test_compose_runs_app_with_postgres15_redis7_prometheus_grafana() -> None:
    services = compose()["services"]
    assert set(services) >= {"app", "postgres", "redis", "prometheus", "grafana"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    app = services["app"]
    build_context = (DEPLOY / app["build"]["context"]).resolve()
    assert build_context == ROOT
    assert (build_context / app["build"]["dockerfile"]).is_file()
    assert f"{APP_PORT}:{APP_PORT}" in app["ports"]


def test_compose_app_environment_names_real_settings_and_points_at_its_services() -> None:
    services = compose()["services"]
    env = services["app"]["environment"]
    assert set(env) <= known_environment_variables()
    pg = services["postgres"]["environment"]
    assert env["DATABASE_URL"] == (
        f"postgresql+asyncpg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    )
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert int(env["RELAYPOINT_PORT"]) == APP_PORT
    RelayPointSettings(**{k: v for k, v in env.items() if k in RelayPointSettings.model_fields})


def _mounts(service: str) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (relative to deploy/)."""
    mounts = {}
    for volume in compose()["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def test_compose_mounts_exist_and_prometheus_scrapes_the_app() -> None:
    for name in compose()["services"]:
        for target, source in _mounts(name).items():
            assert source.exists(), f"{name}: {source} -> {target}"
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["relaypoint"]["metrics_path"] == "/metrics"
    assert jobs["relaypoint"]["static_configs"][0]["targets"] == [f"app:{APP_PORT}"]
    # Host panels and the disk alert read node-exporter, which compose runs beside the app.
    (node_target,) = jobs["node"]["static_configs"][0]["targets"]
    service, _, port = node_target.partition(":")
    assert service in compose()["services"]
    assert port == "9100"


def test_prometheus_loads_the_shipped_alert_rules() -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (pattern,) = prometheus["rule_files"]
    mounted = [
        source for target, source in _mounts("prometheus").items() if Path(target).match(pattern)
    ]
    shipped = ROOT / "src/relaypoint_core/monitoring/data/alerts.yml"
    assert mounted == [shipped.resolve()]
    rules = yaml.safe_load(shipped.read_text())
    assert any(group["rules"] for group in rules["groups"])


def test_grafana_provisions_the_shipped_dashboards() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/relaypoint.yml").read_text()
    )
    (entry,) = provider["providers"]
    mounts = _mounts("grafana")
    dashboards = mounts[entry["options"]["path"]]
    assert dashboards == (ROOT / "src/relaypoint_core/monitoring/data/dashboards").resolve()
    names = sorted(p.stem for p in dashboards.glob("*.json"))
    assert len(names) >= 4, names
    for path in dashboards.glob("*.json"):
        assert json.loads(path.read_text())["panels"]
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert "/etc/grafana/provisioning" in mounts


# --- Kubernetes ---------------------------------------------------------------------------------


def test_kubernetes_manifests_parse_and_cover_the_required_kinds() -> None:
    kinds = {key.split("/")[0] for key in k8s_objects()}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}
    for obj in k8s_objects().values():
        assert obj["apiVersion"]
        assert obj["metadata"]["name"]


def _container() -> dict[str, Any]:
    deployment = k8s_objects()["Deployment/relaypoint-backend"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_deployment_probes_hit_the_health_endpoints_on_the_app_port() -> None:
    container = _container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": APP_PORT}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    annotations = k8s_objects()["Deployment/relaypoint-backend"]["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert int(annotations["prometheus.io/port"]) == APP_PORT


def test_deployment_config_and_secrets_name_real_settings() -> None:
    objects = k8s_objects()
    container = _container()
    refs = {
        next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]
    }
    config = objects[f"ConfigMap/{refs['configMapRef']}"]
    secret = objects[f"Secret/{refs['secretRef']}"]
    names = set(config["data"]) | set(secret["stringData"])
    assert names <= known_environment_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(secret["stringData"])
    assert not set(config["data"]) & {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    assert config["data"]["ENVIRONMENT"] == "production"
    assert int(config["data"]["RELAYPOINT_PORT"]) == APP_PORT
    # The template holds placeholders, never a usable key.
    assert re.fullmatch(r"<.*>", secret["stringData"]["SECRET_KEY"])


def test_service_and_hpa_select_the_deployment() -> None:
    objects = k8s_objects()
    deployment = objects["Deployment/relaypoint-backend"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = objects["Service/relaypoint-backend"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = objects["HorizontalPodAutoscaler/relaypoint-backend"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "relaypoint-backend")
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_probe_and_scrape_paths_answer_on_the_running_app(embedded_app: LiveApp) -> None:
    with embedded_app.client() as client:
        for path in ("/health/live", "/health/ready"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.json()["status"] == "healthy"
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "relaypoint_" in metrics.text
