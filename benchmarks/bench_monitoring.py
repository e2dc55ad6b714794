"""Metrics middleware overhead per request: RelayPoint vs prometheus-fastapi-instrumentator vs starlette-exporter.

Each app serves one trivial templated route (``/items/{item_id}``); requests are sent straight
into the ASGI app (no HTTP client, no server), so the numbers are the framework plus the
middleware. Every peer runs with its defaults and on its own registry where it allows one.
"Overhead" is the time per request minus the same framework's time without any middleware.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette_exporter import PrometheusMiddleware as StarletteExporterMiddleware

from benchmarks._harness import Row, print_table, time_async
from relaypoint_core.monitoring import PerformanceMonitor, RelayPointMetrics
from relaypoint_core.monitoring.asgi import MetricsMiddleware

OPS = 2_000
REPEATS = 9
BASELINE = "no middleware"


def starlette_app() -> Starlette:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{item_id}", item)])


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def with_relaypoint(app: Any, _: str) -> Any:
    monitor = PerformanceMonitor(metrics=RelayPointMetrics(CollectorRegistry()))
    app.add_middleware(MetricsMiddleware, monitor=monitor)
    return app


def with_instrumentator(app: Any, _: str) -> Any:
    Instrumentator(registry=CollectorRegistry()).instrument(app)
    return app


def with_starlette_exporter(app: Any, name: str) -> Any:
    # starlette-exporter always uses the global registry; a distinct prefix keeps runs apart.
    app.add_middleware(StarletteExporterMiddleware, prefix=f"bench_se_{name}", app_name=name)
    return app


def requester(app: Any) -> Callable[[], Any]:
    base_scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items/42",
        "raw_path": b"/items/42",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    request_message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request_message

    async def send(message: Any) -> None:
        return None

    async def one_request() -> None:
        await app(dict(base_scope), receive, send)

    return one_request


async def measure(framework: str, build: Callable[[], Any]) -> list[Row]:
    variants: list[tuple[str, Callable[[Any, str], Any] | None]] = [
        (BASELINE, None),
        ("relaypoint MetricsMiddleware", with_relaypoint),
        ("prometheus-fastapi-instrumentator", with_instrumentator),
        ("starlette-exporter", with_starlette_exporter),
    ]
    callers = {
        name: requester(install(build(), framework) if install is not None else build())
        for name, install in variants
    }
    # Rounds interleave the variants, so a burst of load on the shared machine hits all of them
    # alike instead of deciding one ratio; each variant's result is its median round.
    rounds: dict[str, list[float]] = {name: [] for name in callers}
    for _ in range(REPEATS):
        for name, call in callers.items():
            rounds[name].append(await time_async(call, ops=OPS, repeats=1))
    timings = {name: statistics.median(samples) for name, samples in rounds.items()}
    base = timings[BASELINE]
    ours = timings["relaypoint MetricsMiddleware"] - base
    rows = []
    for name, seconds in timings.items():
        overhead = seconds - base
        extra = {"overhead us": f"{overhead * 1e6:.2f}"}
        if name != BASELINE:
            extra["overhead x ours"] = f"{overhead / ours:.2f}" if ours > 0 else "n/a"
        rows.append(Row(name, seconds, extra))
    return rows


async def main() -> None:
    for framework, build in (("starlette", starlette_app), ("fastapi", fastapi_app)):
        rows = await measure(framework, build)
        print_table(
            f"{framework}: GET /items/{{item_id}}, time per request ({OPS} x {REPEATS})",
            rows,
            baseline=BASELINE,
        )
