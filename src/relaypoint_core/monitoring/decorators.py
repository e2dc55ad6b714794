"""The seed's tracking helpers: ``@track_api_metrics``, ``@track_db_query``, ``track_workflow_execution``.

Each accepts ``monitor=`` (default: the global ``performance_monitor``) and wraps sync and async
functions alike. Durations come from the monitor's clock, so tests can drive them with a
`FakeClock`.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from relaypoint_core.monitoring._request import current_measurement
from relaypoint_core.monitoring.metrics import declare_db_query
from relaypoint_core.monitoring.monitor import PerformanceMonitor, performance_monitor
from relaypoint_core.tenant_context import current_tenant

__all__ = [
    "DbQueryTracker",
    "WorkflowExecution",
    "track_api_metrics",
    "track_db_query",
    "track_workflow_execution",
]

P = ParamSpec("P")
R = TypeVar("R")

_OPERATION = re.compile(r"^[A-Z][A-Z_ ]{0,31}$")
_TABLE = re.compile(r"^[A-Za-z0-9_.$-]{1,128}$")
_METHOD = re.compile(r"^[A-Z]{1,16}$")


def _resolve(monitor: PerformanceMonitor | None) -> PerformanceMonitor:
    return performance_monitor if monitor is None else monitor


def _status_of_exception(exc: BaseException) -> int:
    code = getattr(exc, "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    return 500


def _status_of_result(result: object) -> int:
    code = getattr(result, "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    return 200


def track_api_metrics(
    endpoint: str, method: str = "GET", *, monitor: PerformanceMonitor | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Measure a handler as route ``endpoint`` (a template such as ``/api/v1/workflows/{id}``).

    Inside `MetricsMiddleware` the request is already
    measured: the decorator then only names its route (useful for routers that leave no template
    in the scope) and nothing is counted twice. Outside it, the decorator records the call itself
    with status 200, the ``status_code`` of the returned response, or the ``status_code`` of the
    raised exception (500 when it has none).
    """
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        raise ValueError(f"endpoint must be a route template starting with '/', got {endpoint!r}")
    method = method.upper()
    if not _METHOD.match(method):
        raise ValueError(f"method must be an HTTP method name, got {method!r}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        def finish(mon: PerformanceMonitor, started: float, status: int) -> None:
            mon.record_request(
                route=endpoint,
                method=method,
                status_code=status,
                duration=mon.now() - started,
                tenant_id=current_tenant(),
            )

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                measurement = current_measurement.get()
                if measurement is not None:
                    measurement.route = endpoint
                    return await fn(*args, **kwargs)
                mon = _resolve(monitor)
                started = mon.now()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    finish(mon, started, _status_of_exception(exc))
                    raise
                finish(mon, started, _status_of_result(result))
                return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            measurement = current_measurement.get()
            if measurement is not None:
                measurement.route = endpoint
                return fn(*args, **kwargs)
            mon = _resolve(monitor)
            started = mon.now()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                finish(mon, started, _status_of_exception(exc))
                raise
            finish(mon, started, _status_of_result(result))
            return result

        return sync_wrapper

    return decorate


class DbQueryTracker:
    """Times database work as ``relaypoint_db_query_duration_seconds{operation, table}``.

    Use it as a decorator (sync or async functions) or as a context manager (``with`` or
    ``async with``); failures also count in ``relaypoint_db_query_errors_total``. An exception
    of the ``expected`` types (by default ``LookupError``, e.g. "no such row") is an answer the
    database gave, not a database error: it is timed but not counted as an error.
    """

    __slots__ = ("_expected", "_monitor", "_starts", "operation", "table")

    def __init__(
        self,
        operation: str,
        table: str,
        *,
        monitor: PerformanceMonitor | None = None,
        expected: tuple[type[BaseException], ...] = (LookupError,),
    ) -> None:
        op = operation.strip().upper() if isinstance(operation, str) else ""
        if not _OPERATION.match(op):
            raise ValueError(
                f"operation must be a SQL verb such as 'SELECT' or 'INSERT', got {operation!r}"
            )
        if not isinstance(table, str) or not _TABLE.match(table):
            raise ValueError(
                f"table must be a table name (letters, digits, _ . $ -), got {table!r}"
            )
        self.operation = op
        self.table = table
        self._monitor = monitor
        self._expected = expected
        self._starts: list[float] = []

    def _failed(self, exc: BaseException | None) -> bool:
        return exc is not None and not isinstance(exc, self._expected)

    def _record(self, started: float, failed: bool) -> None:
        mon = _resolve(self._monitor)
        metrics = mon.metrics
        metrics.db_query_duration.labels(self.operation, self.table).observe(mon.now() - started)
        if failed:
            metrics.db_query_errors.labels(self.operation, self.table).inc()

    def _now(self) -> float:
        return _resolve(self._monitor).now()

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        declare_db_query(self.operation, self.table)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = self._now()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    self._record(started, failed=self._failed(exc))
                    raise
                self._record(started, failed=False)
                return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = self._now()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                self._record(started, failed=self._failed(exc))
                raise
            self._record(started, failed=False)
            return result

        return sync_wrapper

    def __enter__(self) -> DbQueryTracker:
        self._starts.append(self._now())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._record(self._starts.pop(), failed=self._failed(exc))

    async def __aenter__(self) -> DbQueryTracker:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def track_db_query(
    operation: str,
    table: str,
    *,
    monitor: PerformanceMonitor | None = None,
    expected: tuple[type[BaseException], ...] = (LookupError,),
) -> DbQueryTracker:
    """``@track_db_query("SELECT", "workflows")`` or ``async with track_db_query(...)``."""
    return DbQueryTracker(operation, table, monitor=monitor, expected=expected)


@dataclass(slots=True)
class WorkflowExecution:
    """What ``track_workflow_execution`` yields; set ``succeeded = False`` to record a soft failure."""

    tenant_id: str | None
    workflow_id: str
    succeeded: bool = True


@asynccontextmanager
async def track_workflow_execution(
    tenant_id: str | None,
    workflow_id: str,
    *,
    monitor: PerformanceMonitor | None = None,
) -> AsyncIterator[WorkflowExecution]:
    """Count and time one workflow run; an exception (or ``succeeded = False``) is a failure.

    ``tenant_id`` and ``workflow_id`` never become metric labels; the tenant goes to the rolling
    store so that per-tenant reports count the run.
    """
    mon = _resolve(monitor)
    execution = WorkflowExecution(tenant_id=tenant_id, workflow_id=str(workflow_id))
    in_progress = mon.metrics.workflows_in_progress
    in_progress.inc()
    started = mon.now()
    try:
        yield execution
    except BaseException:
        execution.succeeded = False
        raise
    finally:
        in_progress.dec()
        mon.record_workflow(
            duration=mon.now() - started,
            succeeded=execution.succeeded,
            tenant_id=tenant_id,
        )
