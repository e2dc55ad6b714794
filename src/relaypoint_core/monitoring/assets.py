"""The Prometheus alert rules and Grafana dashboards shipped as package data.

``export_assets("/etc/relaypoint")`` writes ``alerts.yml`` and ``dashboards/*.json`` where
Prometheus (``rule_files:``) and Grafana (dashboard provisioning) can load them.
"""

from __future__ import annotations

import json
import os
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

__all__ = ["alert_rules_text", "dashboard_names", "export_assets", "load_dashboard"]

_DATA = files("relaypoint_core.monitoring") / "data"


def _dashboards_dir() -> Traversable:
    return _DATA / "dashboards"


def alert_rules_text() -> str:
    """The Prometheus rule file (YAML) for the operations guide's alerts."""
    return (_DATA / "alerts.yml").read_text(encoding="utf-8")


def dashboard_names() -> list[str]:
    """Names of the shipped Grafana dashboards (file names without ``.json``)."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in _dashboards_dir().iterdir()
        if entry.name.endswith(".json")
    )


def load_dashboard(name: str) -> dict[str, Any]:
    """One Grafana dashboard model, e.g. ``load_dashboard("api-performance")``."""
    if name not in dashboard_names():
        raise KeyError(f"no dashboard {name!r}; available: {', '.join(dashboard_names())}")
    model: dict[str, Any] = json.loads(
        (_dashboards_dir() / f"{name}.json").read_text(encoding="utf-8")
    )
    return model


def export_assets(directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``alerts.yml`` and ``dashboards/<name>.json`` under ``directory``; return the paths."""
    root = Path(directory)
    (root / "dashboards").mkdir(parents=True, exist_ok=True)
    written = [root / "alerts.yml"]
    written[0].write_text(alert_rules_text(), encoding="utf-8")
    for name in dashboard_names():
        target = root / "dashboards" / f"{name}.json"
        target.write_text(
            (_dashboards_dir() / f"{name}.json").read_text(encoding="utf-8"), encoding="utf-8"
        )
        written.append(target)
    return written
