"""promtool accepts the shipped alert rules, and their unit tests pass with one test per alert."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from relaypoint_core.monitoring.assets import alert_rules_text
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "src/relaypoint_core/monitoring/data/alerts.yml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("promtool")
    return subprocess.run(
        [str(tool), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_check_rules_accepts_the_shipped_rules() -> None:
    result = run("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = run("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(alert_rules_text())["groups"]
        for rule in group["rules"]
    }
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert firing == alerts
    assert silent == alerts


def test_the_unit_tests_load_the_shipped_rules_file() -> None:
    (rule_file,) = yaml.safe_load(RULE_TESTS.read_text())["rule_files"]
    assert (RULE_TESTS.parent / rule_file).resolve() == RULES.resolve()


def test_promtool_check_config_accepts_the_compose_prometheus_config() -> None:
    result = run("check", "config", "--syntax-only", str(ROOT / "deploy/prometheus/prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
