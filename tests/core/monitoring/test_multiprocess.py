"""prometheus-client multiprocess mode: real worker processes, stale files, dead workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from relaypoint_core.monitoring import MonitoringConfigurationError
from relaypoint_core.monitoring.asgi import metrics_app
from relaypoint_core.monitoring.multiprocess import (
    MULTIPROC_ENV,
    mark_worker_dead,
    multiprocess_registry,
    prepare_multiprocess_dir,
)
from tests.core.monitoring.support import value

ROOT = Path(__file__).resolve().parents[3]

WORKER = """
import asyncio, os, sys
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from relaypoint_core.monitoring import track_workflow_execution
from relaypoint_core.monitoring.asgi import MetricsMiddleware
from tests.core.monitoring.support import call

async def hello(request):
    return PlainTextResponse("hi")

async def main(count):
    app = MetricsMiddleware(Starlette(routes=[Route("/items/{item_id}", hello)]))
    for index in range(count):
        assert await call(app, f"/items/{index}") == 200
    async with track_workflow_execution("acme", "wf"):
        pass

asyncio.run(main(int(sys.argv[1])))
print(os.getpid())
"""


def run_worker(directory: Path, requests: int) -> int:
    env = {"PATH": "/usr/bin:/bin", MULTIPROC_ENV: str(directory), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(requests)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return int(done.stdout.strip().splitlines()[-1])


async def scrape(monkeypatch: pytest.MonkeyPatch, directory: Path) -> str:
    monkeypatch.setenv(MULTIPROC_ENV, str(directory))
    transport = httpx.ASGITransport(app=metrics_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return (await client.get("/metrics")).text


async def test_workers_aggregate_and_stale_files_are_cleared_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prepare_multiprocess_dir exports the variable; let monkeypatch restore it to absent, or every
    # later test (and the apps they start) would run in multiprocess mode.
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    directory = tmp_path / "prom"
    prepare_multiprocess_dir(directory)
    # A previous deployment left numbers behind.
    run_worker(directory, 5)
    assert list(directory.glob("*.db"))

    # Start-up of the new deployment: stale files go, then two workers serve traffic.
    prepare_multiprocess_dir(directory)
    assert not list(directory.glob("*.db"))
    first = run_worker(directory, 3)
    second = run_worker(directory, 4)

    text = await scrape(monkeypatch, directory)
    requests = "relaypoint_api_requests_total"
    assert value(text, requests, route="/items/{item_id}", status_class="2xx") == 7
    assert (
        value(text, "relaypoint_api_request_duration_seconds_count", route="/items/{item_id}") == 7
    )
    assert value(text, "relaypoint_workflows_executed_total", status="success") == 2

    live_gauges = {p.name for p in directory.glob("gauge_live*.db")}
    assert any(str(first) in name for name in live_gauges)
    mark_worker_dead(first, directory)
    remaining = {p.name for p in directory.glob("gauge_live*.db")}
    assert not any(f"_{first}.db" in name for name in remaining)
    assert any(f"_{second}.db" in name for name in remaining)
    # Counters of the dead worker still count: they are history, not live state.
    text = await scrape(monkeypatch, directory)
    assert value(text, requests, route="/items/{item_id}") == 7


def test_prepare_is_a_no_op_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    assert prepare_multiprocess_dir() is None
    mark_worker_dead(12345)  # nothing configured, nothing to do
    with pytest.raises(MonitoringConfigurationError, match=MULTIPROC_ENV):
        multiprocess_registry()


def test_misconfigured_directories_fail_with_a_clear_message(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(MonitoringConfigurationError, match="not a directory"):
        prepare_multiprocess_dir(not_a_dir)
    with pytest.raises(MonitoringConfigurationError, match="prepare_multiprocess_dir"):
        multiprocess_registry(tmp_path / "missing")
