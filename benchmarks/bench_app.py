"""Whole-app load: a cached workflow read through every middleware vs the same read with none.

Both servers are uvicorn processes on loopback (one worker each); concurrent keep-alive httpx
clients in this process send the requests. "All middlewares" is the reference app as shipped
(trusted hosts, security headers, CORS, gzip, metrics, JWT authentication, rate limiting,
tenant resolution, RBAC, cached read through relaypoint_cache); "none" is a bare FastAPI route
doing the same cached read. The clients sign in as admins of a few ENTERPRISE tenants, so the rate
limiter checks all six windows on every request without refusing any in the measured run.

The clients share the interpreter and the two cores with nothing else, so they saturate before
the server does: these rows are a floor. ``bench_wrk`` measures the same servers with wrk from
another process, which is the figure of record.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.support.services import delete_redis_prefix

from benchmarks._harness import Row, print_table
from benchmarks._servers import free_port, server_env, start_server, stop_server

CLIENTS = 16
TENANTS = 4
REQUESTS = 2000
WARMUP = 160
PASSWORD = "benchmark password"


def bare_app() -> Any:
    """``uvicorn benchmarks.bench_app:bare_app --factory``: the read with no middleware at all."""
    from fastapi import FastAPI

    from relaypoint_cache import Cache

    cache = Cache("memory://")
    app = FastAPI()
    workflow = {
        "id": "w1",
        "name": "Invoice approval",
        "status": "active",
        "steps": [{"name": "greet", "action": "uppercase", "input": "hello"}],
    }

    @app.get("/api/v1/workflows/{workflow_id}")
    async def read(workflow_id: str) -> dict[str, Any]:
        async def load() -> dict[str, Any]:
            return dict(workflow, id=workflow_id)

        value: dict[str, Any] = await cache.get_or_set(
            workflow_id, load, 300, tenant_id="bench", namespace="workflows"
        )
        return value

    return app


def prepare_reference_app(base: str, tenants: int = TENANTS) -> list[tuple[str, dict[str, str]]]:
    """A few ENTERPRISE tenants shared by the clients, each with a workflow to read."""
    with httpx.Client(base_url=base, timeout=30) as client:
        root = client.post(
            "/api/v1/auth/login",
            json={"email": "super_admin@acme.example", "password": "relaypoint-demo"},
        ).json()
        targets = []
        for index in range(tenants):
            slug = f"bench{index}{uuid.uuid4().hex[:6]}"
            email = f"admin@{slug}.example"
            created = client.post(
                "/api/v1/tenants",
                headers={"Authorization": f"Bearer {root['access_token']}"},
                json={
                    "name": f"Bench {index}",
                    "slug": slug,
                    "plan_tier": "ENTERPRISE",
                    "admin_email": email,
                    "admin_name": "Bench",
                    "admin_password": PASSWORD,
                },
            )
            created.raise_for_status()
            tokens = client.post(
                "/api/v1/auth/login",
                headers={"X-Tenant-ID": slug},
                json={"email": email, "password": PASSWORD},
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            workflow = client.post(
                f"/api/v1/tenants/{slug}/workflows",
                headers=headers,
                json={
                    "name": "Invoice approval",
                    "status": "active",
                    "steps": [{"name": "greet", "action": "uppercase", "input": "hello"}],
                },
            )
            workflow.raise_for_status()
            targets.append((f"/api/v1/workflows/{workflow.json()['id']}", headers))
    return targets


async def _load(base: str, targets: list[tuple[str, dict[str, str]]]) -> dict[str, float]:
    """Send WARMUP then REQUESTS cached reads from CLIENTS concurrent clients; latency stats."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client_loop(index: int, count: int, record: bool) -> None:
        path, headers = targets[index % len(targets)]
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(count):
                start = time.perf_counter()
                response = await client.get(path)
                elapsed = time.perf_counter() - start
                if record:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    await asyncio.gather(*(client_loop(i, WARMUP // CLIENTS, False) for i in range(CLIENTS)))
    started = time.perf_counter()
    await asyncio.gather(*(client_loop(i, REQUESTS // CLIENTS, True) for i in range(CLIENTS)))
    wall = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"the measured run was not all 200 OK: {statuses}")
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / wall,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def _row(name: str, stats: dict[str, float]) -> Row:
    return Row(
        name,
        stats["p50"],
        {
            "req/s": f"{stats['rps']:.0f}",
            "p50 ms": f"{stats['p50'] * 1e3:.2f}",
            "p99 ms": f"{stats['p99'] * 1e3:.2f}",
        },
    )


def _redis_url() -> str | None:
    url = os.environ.get("RELAYPOINT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception:
        return None
    return url


def main() -> None:
    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="rp-bench-app-"))

    port = free_port()
    bare = start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.bench_app:bare_app",
            "--factory",
            "--http",
            "h11",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        server_env(),
        port,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        targets = [(f"/api/v1/workflows/w{i}", {}) for i in range(CLIENTS)]
        rows.append(_row("no middleware (bare route)", asyncio.run(_load(base, targets))))
    finally:
        stop_server(bare)

    variants: list[tuple[str, dict[str, str]]] = [("all middlewares, memory backends", {})]
    redis_url = _redis_url()
    prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
    if redis_url is not None:
        variants.append(
            (
                "all middlewares, Redis backends",
                {"REDIS_URL": redis_url, "RELAYPOINT_KEY_PREFIX": prefix},
            )
        )
    for index, (name, extra) in enumerate(variants):
        port = free_port()
        env = {
            **server_env(),
            "ENVIRONMENT": "development",
            "RELAYPOINT_PORT": str(port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / f'app{index}.sqlite3'}",
            "RELAYPOINT_ANONYMOUS_TIER": "ENTERPRISE",
            **extra,
        }
        server = start_server([sys.executable, "-c", QUIET_APP], env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            rows.append(_row(name, asyncio.run(_load(base, prepare_reference_app(base)))))
        finally:
            stop_server(server)
    if redis_url is not None:
        delete_redis_prefix(redis_url, prefix)

    print_table(
        f"Cached workflow read, {CLIENTS} concurrent clients, {REQUESTS} requests "
        "(uvicorn, 1 worker, loopback)",
        rows,
        baseline="no middleware (bare route)",
        unit="ms",
    )


# The reference app as `python -m examples.app` runs it (its server limits and h11 deadline
# protocol included), minus the per-request access log (printing a line per request would measure
# the terminal, not the middlewares).
QUIET_APP = """
import uvicorn
from examples.app.server import load_server_limits
from examples.app.settings import load_app_config
config = load_app_config()
uvicorn.run("examples.app.main:create_app", factory=True, host=config.host, port=config.port,
            log_level="warning", access_log=False, **load_server_limits().uvicorn_options())
"""


if __name__ == "__main__":
    main()
