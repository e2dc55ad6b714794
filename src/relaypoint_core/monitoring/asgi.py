"""Pure ASGI pieces: the metrics middleware, the ``/metrics`` scrape endpoint, health endpoints.

No web framework is imported. The middleware learns the route *template* from what the router
leaves in the ASGI scope after the app ran: Starlette (and FastAPI) put the matched route object
in ``scope["route"]``; FastAPI's included routers also leave the fully prefixed template in
``scope["fastapi"]["effective_route_context"]``; mounted sub-applications extend
``scope["root_path"]``, which is mapped back to the ``Mount`` templates of the app's route tree.
A request no route matched (404s, slash redirects) is labelled ``__unmatched__``, so no raw path
ever becomes a label value. ``@track_api_metrics`` inside a request names its route explicitly,
which serves routers that leave no template behind.

Install it inside the framework (``app.add_middleware(MetricsMiddleware)``) so that it sees the
application object, or wrap the app (``MetricsMiddleware(app)``); both work.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import REGISTRY, Collector

from relaypoint_core.asgi_types import ASGIApp, Message, Receive, Scope, Send
from relaypoint_core.monitoring._request import RequestMeasurement, current_measurement
from relaypoint_core.monitoring.health import HealthKind
from relaypoint_core.monitoring.metrics import UNKNOWN_LABEL, UNMATCHED_ROUTE, status_class
from relaypoint_core.monitoring.monitor import PerformanceMonitor, performance_monitor
from relaypoint_core.monitoring.multiprocess import multiprocess_dir, multiprocess_registry
from relaypoint_core.monitoring.route_templates import TemplateMatcher
from relaypoint_core.request_state import get_scope_tenant
from relaypoint_core.stack import LayerGuard
from relaypoint_core.tenant_context import current_tenant

__all__ = ["HealthEndpoint", "MetricsEndpoint", "MetricsMiddleware", "health_app", "metrics_app"]


KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "QUERY"}
)
OTHER_METHOD = "OTHER"
CLIENT_CLOSED_REQUEST = 499  # nginx's convention for "the client went away first"
_MOUNT_SUFFIX = "/{path}"
_MOUNT_CACHE_LIMIT = 1024


class _Children(NamedTuple):
    requests: Any
    errors: Any | None
    duration: Any
    route: str
    is_error: bool


class MetricsMiddleware:
    """Counts, times and labels every HTTP request; feeds the monitor's rolling store.

    ``exclude_paths`` are raw paths served unmeasured (the scrape endpoint by default).
    ``route_templates`` (the app's templates, or a callable returning them) label requests that
    an outer middleware refused before routing, such as a 429, with the template they aimed at.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        monitor: PerformanceMonitor | None = None,
        exclude_paths: Iterable[str] = ("/metrics",),
        record_reports: bool = True,
        route_templates: Iterable[str] | Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.app = app
        self._templates = TemplateMatcher(route_templates) if route_templates is not None else None
        self._monitor = monitor
        self._excluded = frozenset(exclude_paths)
        self._record_reports = record_reports
        # Label children resolved once per label combination: the hot path then skips
        # prometheus-client's label validation and lookup.
        self._children: dict[tuple[str, str, int, str], _Children] = {}
        self._in_progress: dict[str, Any] = {}
        self._mount_chains: dict[tuple[int, str], tuple[tuple[Any, str], ...]] = {}
        self._order = LayerGuard("metrics")

    @property
    def monitor(self) -> PerformanceMonitor:
        return performance_monitor if self._monitor is None else self._monitor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._order.checked:
            self._order(scope)
        if scope["path"] in self._excluded:
            await self.app(scope, receive, send)
            return
        monitor = performance_monitor if self._monitor is None else self._monitor
        method: str = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        in_progress = self._in_progress.get(method)
        if in_progress is None:
            in_progress = self._in_progress[method] = (
                monitor.metrics.api_requests_in_progress.labels(method)
            )
        entry_root = scope.get("root_path", "")
        entry_app = scope.get("app")
        status_code = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        measurement = RequestMeasurement()
        token = current_measurement.set(measurement)
        now = monitor.now
        in_progress.inc()
        started = now()
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            status_code = 500
            raise
        except BaseException:
            status_code = status_code or CLIENT_CLOSED_REQUEST
            raise
        finally:
            duration = now() - started
            in_progress.dec()
            current_measurement.reset(token)
            # Observed here rather than in a helper: one call less on every request.
            route = measurement.route or self._route_template(scope, entry_root, entry_app)
            tenant = get_scope_tenant(scope)
            tier = (tenant.plan_tier if tenant is not None else None) or UNKNOWN_LABEL
            key = (method, route, status_code or 500, tier)  # 0: no response was ever started
            children = self._children.get(key)
            if children is None:
                children = self._make_children(monitor, key)
            children.requests.inc()
            if children.errors is not None:
                children.errors.inc()
            children.duration.observe(duration)
            if self._record_reports:
                tenant_id = tenant.tenant_id if tenant is not None else current_tenant()
                monitor.store.record_request(children.route, duration, children.is_error, tenant_id)

    def _make_children(
        self, monitor: PerformanceMonitor, key: tuple[str, str, int, str]
    ) -> _Children:
        method, route, status, tier = key
        metrics = monitor.metrics
        route = metrics.route_guard(route)
        tier = metrics.plan_tier_guard(tier)
        klass = status_class(status)
        is_error = klass == "5xx"
        children = _Children(
            requests=metrics.api_requests.labels(method, route, klass, tier),
            errors=metrics.api_errors.labels(method, route, klass, tier) if is_error else None,
            duration=metrics.api_request_duration.labels(method, route, tier),
            route=route,
            is_error=is_error,
        )
        # Keys hold route templates and status codes, never raw paths, so this stays small;
        # the cap is a backstop against exotic routers.
        if len(self._children) < 10_000:
            self._children[key] = children
        return children

    # -- route templates -------------------------------------------------------------------
    def _route_template(self, scope: Scope, entry_root: str, entry_app: Any) -> str:
        route = scope.get("route")
        if route is None:
            if self._templates is not None:
                return self._templates.match(scope["path"]) or UNMATCHED_ROUTE
            return UNMATCHED_ROUTE
        template: object = None
        framework_state = scope.get("fastapi")
        if framework_state:
            context = framework_state.get("effective_route_context")
            if context is not None and getattr(context, "original_route", None) is route:
                template = getattr(context, "path_format", None)
        if not isinstance(template, str):
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if not isinstance(template, str):
            return UNMATCHED_ROUTE
        root = scope.get("root_path", "")
        if root != entry_root:
            consumed = root[len(entry_root) :] if root.startswith(entry_root) else root
            chain = self._mount_chain(self._route_tree(entry_app, scope), consumed)
            if chain and chain[-1][0] is route:
                chain = chain[:-1]  # the matched route is itself a Mount of a plain ASGI app
            template = "".join(own for _, own in chain) + template
        return template

    def _route_tree(self, entry_app: Any, scope: Scope) -> Any:
        """The outermost application whose ``routes`` describe the mounts this request took."""
        if entry_app is not None:
            return entry_app  # installed with add_middleware: the framework set scope["app"]
        if hasattr(self.app, "routes"):
            return self.app  # wrapping the application object itself
        return scope.get("app")

    def _mount_chain(self, app: Any, consumed: str) -> tuple[tuple[Any, str], ...]:
        key = (id(app), consumed)
        chain = self._mount_chains.get(key)
        if chain is None:
            found = _find_mounts(getattr(app, "routes", None), consumed) or ()
            chain = tuple(found)
            if len(self._mount_chains) >= _MOUNT_CACHE_LIMIT:
                self._mount_chains.clear()  # parametrised mount prefixes must not grow it forever
            self._mount_chains[key] = chain
        return chain


def _find_mounts(routes: Any, consumed: str) -> list[tuple[Any, str]] | None:
    """The Mounts whose templates, concatenated, matched the raw prefix ``consumed``."""
    if not routes:
        return None
    for route in routes:
        fmt = getattr(route, "path_format", None)
        regex = getattr(route, "path_regex", None)
        if (
            regex is None
            or not isinstance(fmt, str)
            or not fmt.endswith(_MOUNT_SUFFIX)
            or not hasattr(route, "routes")
        ):
            continue
        match = regex.match(consumed + "/")
        if match is None:
            continue
        own = fmt[: -len(_MOUNT_SUFFIX)]
        rest = "/" + match.groupdict().get("path", "")
        if rest == "/":
            return [(route, own)]
        inner = _find_mounts(getattr(route, "routes", None), rest.rstrip("/"))
        if inner is not None:
            return [(route, own), *inner]
    return None


def _header(scope: Scope, name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]
    return ",".join(values)


async def _drain(receive: Receive) -> None:
    """Read the request body so servers that insist on it are satisfied."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *, head: bool = False
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


class MetricsEndpoint:
    """ASGI app answering Prometheus scrapes (text or OpenMetrics, gzip when accepted).

    With ``PROMETHEUS_MULTIPROC_DIR`` set it aggregates every worker's files on each scrape
    instead of reading this process's registry.
    """

    def __init__(
        self, registry: Collector | None = None, *, disable_compression: bool = False
    ) -> None:
        self._registry = registry
        self._disable_compression = disable_compression

    def _collector(self) -> Collector:
        if self._registry is not None:
            return self._registry
        if multiprocess_dir() is not None:
            return multiprocess_registry()
        return REGISTRY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")])
            return
        encoder, content_type = choose_encoder(_header(scope, b"accept"))
        output = encoder(self._collector())
        headers = [(b"content-type", content_type.encode())]
        if not self._disable_compression and "gzip" in _header(scope, b"accept-encoding"):
            output = gzip.compress(output)
            headers.append((b"content-encoding", b"gzip"))
        await _respond(send, 200, output, headers, head=method == "HEAD")


def metrics_app(
    registry: CollectorRegistry | None = None, *, disable_compression: bool = False
) -> MetricsEndpoint:
    """The ``/metrics`` ASGI app: ``Route("/metrics", metrics_app())`` or ``app.mount(...)``."""
    return MetricsEndpoint(registry, disable_compression=disable_compression)


class HealthEndpoint:
    """ASGI app answering a health probe with JSON and 200 (healthy/degraded) or 503 (unhealthy)."""

    def __init__(
        self, monitor: PerformanceMonitor | None = None, kind: HealthKind = "system"
    ) -> None:
        if kind not in ("system", "liveness", "readiness"):
            raise ValueError(f"kind must be 'system', 'liveness' or 'readiness', got {kind!r}")
        self._monitor = monitor
        self.kind: HealthKind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        monitor = performance_monitor if self._monitor is None else self._monitor
        health = await monitor.health.run(self.kind)
        body = json.dumps(health.as_dict()).encode()
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        await _respond(send, health.http_status, body, headers, head=scope.get("method") == "HEAD")


def health_app(
    monitor: PerformanceMonitor | None = None, kind: HealthKind = "system"
) -> HealthEndpoint:
    """A health-probe ASGI app: mount ``kind="liveness"`` and ``kind="readiness"`` separately."""
    return HealthEndpoint(monitor, kind)
