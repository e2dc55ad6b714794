"""Shipped alert rules and dashboards: valid files whose queries use metrics that really exist."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from relaypoint_core.monitoring import RelayPointMetrics
from relaypoint_core.monitoring.assets import (
    alert_rules_text,
    dashboard_names,
    export_assets,
    load_dashboard,
)
from tests.core.monitoring.promql_shape import PromQLShapeError, metric_names

# Metrics from outside the SDK the assets may use, each named with its source.
WELL_KNOWN_EXPORTER_METRICS = {
    "up": "Prometheus itself (scrape health)",
    "process_start_time_seconds": "prometheus-client's process collector",
    "process_cpu_seconds_total": "prometheus-client's process collector",
    "process_resident_memory_bytes": "prometheus-client's process collector",
    "node_cpu_seconds_total": "node_exporter",
    "node_memory_MemAvailable_bytes": "node_exporter",
    "node_memory_MemTotal_bytes": "node_exporter",
    "node_filesystem_avail_bytes": "node_exporter",
    "node_filesystem_size_bytes": "node_exporter",
}
# relaypoint_cache exports these (collected in relaypoint_cache/metrics.py); used if that module
# cannot be read.
DOCUMENTED_CACHE_METRICS = {
    "relaypoint_cache_hits_total",
    "relaypoint_cache_misses_total",
    "relaypoint_cache_l2_latency_seconds_bucket",
}
SEED_ALERTS = {
    "RelayPointAPIHighLatency": ("relaypoint_api_request_duration_seconds_bucket", "> 1"),
    "RelayPointAPIHighErrorRate": ("relaypoint_api_errors_total", "> 0.01"),
    "RelayPointCacheHitRateLow": ("relaypoint_cache_hits_total", "< 0.8"),
    "RelayPointDBPoolNearlyExhausted": ("relaypoint_db_pool_connections_in_use", "> 0.9"),
    "RelayPointDiskUsageHigh": ("node_filesystem_avail_bytes", "> 0.8"),
}


def core_exported_names() -> set[str]:
    """Every sample name the core's metrics can produce, read from a real registry."""
    registry = CollectorRegistry()
    RelayPointMetrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(family.name)
    return names


def cache_metric_exists(name: str) -> bool:
    """Whether relaypoint_cache's metrics module defines the family behind sample ``name``."""
    spec = find_spec("relaypoint_cache.metrics")
    if spec is None or spec.origin is None:
        return name in DOCUMENTED_CACHE_METRICS
    source = Path(spec.origin).read_text(encoding="utf-8")
    base = name
    for suffix in ("_total", "_bucket", "_count", "_sum"):
        base = base.removesuffix(suffix)
    if f'"{base}"' in source:
        return True
    # Families built as f"relaypoint_cache_{name}" from a dict keyed by the short name.
    short = base.removeprefix("relaypoint_cache_")
    return 'f"relaypoint_cache_{name}"' in source and f'"{short}":' in source


def unknown_metrics(names: set[str]) -> set[str]:
    core = core_exported_names()
    return {
        n
        for n in names
        if n not in core
        and n not in WELL_KNOWN_EXPORTER_METRICS
        and not (n.startswith("relaypoint_cache_") and cache_metric_exists(n))
    }


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(alert_rules_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs(model: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in model["panels"] for target in panel.get("targets", [])]


def test_alert_rules_parse_and_cover_the_seed_alerts() -> None:
    document = yaml.safe_load(alert_rules_text())
    assert {"groups"} == set(document)
    rules = alert_rules()
    by_name = {rule["alert"]: rule for rule in rules}
    assert len(by_name) == len(rules), "alert names must be unique"
    for alert, (metric, threshold) in SEED_ALERTS.items():
        expr = " ".join(by_name[alert]["expr"].split())
        assert metric in expr
        assert threshold in expr
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["for"].rstrip("smh").isdigit()


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alert_rules()])
def test_alert_expressions_are_promql_shaped_and_use_real_metrics(alert: str) -> None:
    rule = next(rule for rule in alert_rules() if rule["alert"] == alert)
    names = metric_names(rule["expr"])
    assert names
    assert unknown_metrics(names) == set()


@pytest.mark.parametrize("name", dashboard_names())
def test_dashboards_are_valid_and_query_real_metrics(name: str) -> None:
    model = load_dashboard(name)
    assert model["uid"].startswith("relaypoint-")
    assert model["title"].startswith("RelayPoint / ")
    assert model["panels"]
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"])
    used: set[str] = set()
    for expr in dashboard_exprs(model):
        used |= metric_names(expr)
    assert unknown_metrics(used) == set()


def test_the_four_seed_boards_are_shipped() -> None:
    assert set(dashboard_names()) == {
        "api-performance",
        "database-performance",
        "business-metrics",
        "system-health",
    }
    system = " ".join(dashboard_exprs(load_dashboard("system-health")))
    for resource in (
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
    ):
        assert resource in system
    with pytest.raises(KeyError, match="api-performance"):
        load_dashboard("nope")


def test_every_core_metric_appears_on_some_dashboard() -> None:
    used: set[str] = set()
    for name in dashboard_names():
        for expr in dashboard_exprs(load_dashboard(name)):
            used |= metric_names(expr)
    families = {
        n.removesuffix("_total").removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for n in used
    }
    core = {
        n.removesuffix("_total").removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for n in core_exported_names()
    }
    assert core - families == set()


@pytest.mark.parametrize(
    "expr",
    [
        "rate(relaypoint_api_requests_total[5m]",
        "rate(relaypoint_api_requests_total[5 minutes])",
        'sum(rate(relaypoint_api_requests_total{route="/x}[5m]))',
        'relaypoint_api_requests_total{route~"/x"}',
        "sum by (le route) (relaypoint_api_requests_total)",
        "rte(relaypoint_api_requests_total[5m])",
        "relaypoint_api_requests_total ; up",
    ],
)
def test_the_shape_checker_rejects_broken_expressions(expr: str) -> None:
    with pytest.raises(PromQLShapeError):
        metric_names(expr)


def test_the_checker_reports_unknown_metrics() -> None:
    assert unknown_metrics(metric_names("rate(relaypoint_api_requestz_total[5m])")) == {
        "relaypoint_api_requestz_total"
    }
    assert unknown_metrics(metric_names("rate(relaypoint_cache_hitz_total[5m])")) == {
        "relaypoint_cache_hitz_total"
    }


def test_export_assets_writes_loadable_files(tmp_path: Path) -> None:
    written = export_assets(tmp_path / "observability")
    assert written[0].name == "alerts.yml"
    assert yaml.safe_load(written[0].read_text())["groups"]
    assert {p.name for p in written[1:]} == {f"{n}.json" for n in dashboard_names()}
    for path in written[1:]:
        assert json.loads(path.read_text())["panels"]


def test_the_docs_reference_table_lists_every_core_metric() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "observability.md").read_text()
    registry = CollectorRegistry()
    RelayPointMetrics(registry)
    for family in registry.collect():
        wire = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"| `{wire}` | {family.type} |" in docs, wire
