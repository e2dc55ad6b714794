"""A bounded in-process rolling store of recent requests, cache lookups and workflow runs.

Prometheus answers fleet-wide questions; this store answers "how has *this* process served tenant
``acme`` over the last hour?" without a Prometheus server. It keeps raw samples (so percentiles are
exact, not bucket estimates) in ``collections.deque`` objects with a hard size cap and a time-based
retention. Recording is one clock read and one ``deque.append`` of a tuple: no lock, because
``append`` is atomic in CPython, and readers copy the deque (also atomic) before scanning it.

Percentiles use the *nearest-rank* definition: the p-th percentile of ``n`` sorted samples is the
sample at 1-based rank ``ceil(p / 100 * n)``.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from relaypoint_core.clock import Clock, SystemClock, system_clock
from relaypoint_core.monitoring.errors import InvalidTimeWindowError

__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_RETENTION_SECONDS",
    "LatencyPercentiles",
    "PerformanceReport",
    "RollingStore",
    "RouteLatency",
    "nearest_rank_percentile",
    "parse_time_window",
]

DEFAULT_MAX_SAMPLES = 100_000
DEFAULT_RETENTION_SECONDS = 24 * 3600.0
SLOWEST_ROUTES = 5

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW_PART = re.compile(r"(\d+)([smhdw])")
_WINDOW_FULL = re.compile(r"(?:\d+[smhdw])+")


def monotonic_reader(clock: Clock) -> Callable[[], float]:
    """``clock.monotonic``, or ``time.monotonic`` itself for the system clock (a C call, no frame)."""
    return time.monotonic if isinstance(clock, SystemClock) else clock.monotonic


def parse_time_window(window: str | float | timedelta) -> float:
    """Seconds in ``window``: ``"30s"``, ``"15m"``, ``"1h"``, ``"1h30m"``, ``"7d"``, a number or a timedelta."""
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, bool):
        raise InvalidTimeWindowError(f"time_window must be a duration, got {window!r}")
    elif isinstance(window, int | float):
        seconds = float(window)
    elif isinstance(window, str):
        text = window.strip().lower()
        if not _WINDOW_FULL.fullmatch(text):
            raise InvalidTimeWindowError(
                f"time_window {window!r} is not a duration: use a number followed by a unit "
                "(s, m, h, d, w), e.g. '30s', '15m', '1h', '1h30m' or '7d'"
            )
        seconds = float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _WINDOW_PART.findall(text)))
    else:
        raise InvalidTimeWindowError(
            f"time_window must be a string like '1h', a number of seconds or a timedelta, "
            f"got {type(window).__name__}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidTimeWindowError(f"time_window must be a positive duration, got {window!r}")
    return seconds


def nearest_rank_percentile(sorted_values: Sequence[float], percent: float) -> float:
    """The nearest-rank ``percent``-th percentile of already sorted, non-empty ``sorted_values``."""
    if not sorted_values:
        raise ValueError("a percentile of no samples is undefined")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    rank = math.ceil(percent / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class LatencyPercentiles:
    """Request latency in seconds (nearest-rank percentiles)."""

    p50: float
    p95: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> LatencyPercentiles | None:
        ordered = sorted(values)
        if not ordered:
            return None
        return cls(
            p50=nearest_rank_percentile(ordered, 50),
            p95=nearest_rank_percentile(ordered, 95),
            p99=nearest_rank_percentile(ordered, 99),
            mean=math.fsum(ordered) / len(ordered),
            max=ordered[-1],
        )


@dataclass(frozen=True, slots=True)
class RouteLatency:
    """One row of the report's slowest-routes table."""

    route: str
    request_count: int
    error_count: int
    latency: LatencyPercentiles


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    """What `PerformanceMonitor.get_performance_report` returns; ``as_dict()`` for JSON."""

    tenant_id: str | None
    time_window: str
    window_seconds: float
    generated_at: float
    request_count: int
    error_count: int
    error_rate: float
    latency: LatencyPercentiles | None
    slowest_routes: list[RouteLatency]
    cache_hits: int
    cache_misses: int
    cache_hit_rate: float | None
    workflows_executed: int
    workflows_failed: int
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Sample layouts (plain tuples: the cheapest thing to build on the hot path).
#   request:  (at, tenant_id, route, duration_seconds, is_error)
#   cache:    (at, hit, tenant_id)
#   workflow: (at, tenant_id, duration_seconds, succeeded)
_RequestSample = tuple[float, str | None, str, float, bool]
_CacheSample = tuple[float, bool, str | None]
_WorkflowSample = tuple[float, str | None, float, bool]


class RollingStore:
    """Recent samples, capped at ``max_samples`` per kind and ``retention_seconds`` of age.

    Not shared between processes: under several workers each one reports on what it served.
    """

    __slots__ = (
        "_cache",
        "_clock",
        "_now",
        "_requests",
        "_workflows",
        "max_samples",
        "retention_seconds",
    )

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        if not retention_seconds > 0:
            raise ValueError(f"retention_seconds must be positive, got {retention_seconds}")
        self._clock = clock
        self._now = monotonic_reader(clock)
        self.max_samples = max_samples
        self.retention_seconds = float(retention_seconds)
        self._requests: deque[_RequestSample] = deque(maxlen=max_samples)
        self._cache: deque[_CacheSample] = deque(maxlen=max_samples)
        self._workflows: deque[_WorkflowSample] = deque(maxlen=max_samples)

    def record_request(
        self, route: str, duration: float, is_error: bool, tenant_id: str | None = None
    ) -> None:
        self._requests.append((self._now(), tenant_id, route, duration, is_error))

    def record_cache_access(self, hit: bool, tenant_id: str | None = None) -> None:
        self._cache.append((self._now(), hit, tenant_id))

    def cache_recorder(self) -> Callable[[bool, str | None], None]:
        """A fast ``record_cache_access(hit, tenant_id)``: two C calls, no method lookups."""
        append = self._cache.append
        now = self._now

        def record(hit: bool, tenant_id: str | None = None) -> None:
            append((now(), hit, tenant_id))

        return record

    def record_workflow(
        self, duration: float, succeeded: bool, tenant_id: str | None = None
    ) -> None:
        self._workflows.append((self._now(), tenant_id, duration, succeeded))

    def clear(self) -> None:
        self._requests.clear()
        self._cache.clear()
        self._workflows.clear()

    def __len__(self) -> int:
        return len(self._requests) + len(self._cache) + len(self._workflows)

    def report(
        self,
        *,
        tenant_id: str | None,
        time_window: str | float | timedelta,
        slowest: int = SLOWEST_ROUTES,
    ) -> PerformanceReport:
        """Summarise the samples of the last ``time_window`` (of ``tenant_id``, or of everyone)."""
        window = parse_time_window(time_window)
        notes: list[str] = []
        if window > self.retention_seconds:
            notes.append(
                f"time_window {window:g}s exceeds the store's retention of "
                f"{self.retention_seconds:g}s; older samples were discarded"
            )
        now = self._now()
        start = now - window
        self._prune(now - self.retention_seconds)

        requests = _recent(self._requests.copy(), start, tenant_id, tenant_index=1)
        caches = _recent(self._cache.copy(), start, tenant_id, tenant_index=2)
        workflows = _recent(self._workflows.copy(), start, tenant_id, tenant_index=1)

        complete = window <= self.retention_seconds and all(
            _covers(samples, start, self.max_samples)
            for samples in (self._requests, self._cache, self._workflows)
        )
        if not complete and not notes:
            notes.append(
                f"more than {self.max_samples} samples arrived within the window; the oldest "
                "were discarded, so counts cover only the most recent part of it"
            )

        error_count = sum(1 for s in requests if s[4])
        by_route: dict[str, list[_RequestSample]] = defaultdict(list)
        for sample in requests:
            by_route[sample[2]].append(sample)
        route_rows = []
        for route, samples in by_route.items():
            latency = LatencyPercentiles.of(s[3] for s in samples)
            assert latency is not None  # every group has at least one sample
            route_rows.append(
                RouteLatency(
                    route=route,
                    request_count=len(samples),
                    error_count=sum(1 for s in samples if s[4]),
                    latency=latency,
                )
            )
        route_rows.sort(key=lambda row: (-row.latency.p95, row.route))

        hits = sum(1 for s in caches if s[1])
        misses = len(caches) - hits
        failed = sum(1 for s in workflows if not s[3])
        return PerformanceReport(
            tenant_id=tenant_id,
            time_window=time_window if isinstance(time_window, str) else f"{window:g}s",
            window_seconds=window,
            generated_at=self._clock.time(),
            request_count=len(requests),
            error_count=error_count,
            error_rate=error_count / len(requests) if requests else 0.0,
            latency=LatencyPercentiles.of(s[3] for s in requests),
            slowest_routes=route_rows[:slowest],
            cache_hits=hits,
            cache_misses=misses,
            cache_hit_rate=hits / len(caches) if caches else None,
            workflows_executed=len(workflows),
            workflows_failed=failed,
            complete=complete,
            notes=notes,
        )

    def _prune(self, horizon: float) -> None:
        for samples in (self._requests, self._cache, self._workflows):
            try:
                while samples[0][0] < horizon:
                    samples.popleft()
            except IndexError:
                pass


def _recent(
    samples: Iterable[Any], start: float, tenant_id: str | None, *, tenant_index: int
) -> list[Any]:
    if tenant_id is None:
        return [s for s in samples if s[0] >= start]
    return [s for s in samples if s[0] >= start and s[tenant_index] == tenant_id]


def _covers(samples: deque[Any], start: float, cap: int) -> bool:
    """False when the cap forced out samples that were still inside the window."""
    if len(samples) < cap:
        return True
    try:
        return bool(samples[0][0] <= start)
    except IndexError:
        return True
