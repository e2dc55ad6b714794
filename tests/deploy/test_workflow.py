"""The GitHub Actions workflow passes actionlint and runs the project's own `.ci/run` against
Redis 7 and PostgreSQL 15 service containers on the ports the tests expect."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.services import POSTGRES_URL, REDIS_URL
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/ci.yml"


def test_actionlint_accepts_the_workflow() -> None:
    tool = require_tool("actionlint")
    result = subprocess.run(
        [str(tool), "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_ci_run_with_redis7_and_postgres15() -> None:
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    services = job["services"]
    assert services["redis"]["image"] == "redis:7"
    assert services["postgres"]["image"] == "postgres:15"
    assert f"{REDIS_URL.split(':')[-1].split('/')[0]}:6379" in services["redis"]["ports"]
    assert "5432:5432" in services["postgres"]["ports"]
    database = POSTGRES_URL.rsplit("/", 1)[1]
    assert services["postgres"]["env"]["POSTGRES_DB"] == database
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])


def test_ci_run_installs_every_debian_tool_the_suites_use() -> None:
    script = (ROOT / ".ci/run").read_text()
    for package in (
        "chromium",
        "chromium-driver",
        "prometheus",
        "prometheus-node-exporter",
        "pgbouncer",
        "wrk",
        "postgresql-client",
        "npm",
    ):
        assert f"missing+=({package})" in script, package
