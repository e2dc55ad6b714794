"""Timing and table printing shared by every benchmark module.

Timings are best-of-N medians of batches, so one noisy moment on a shared 2-core machine does not
decide a ratio. Every table names a baseline row and prints each row's ratio against it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Row:
    name: str
    seconds_per_op: float
    extra: dict[str, str] = field(default_factory=dict)


def time_sync(fn: Callable[[], object], *, ops: int = 10_000, repeats: int = 5) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` batches of ``ops`` calls."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(ops):
            fn()
        samples.append((time.perf_counter() - start) / ops)
    return statistics.median(samples)


async def time_async(
    fn: Callable[[], Awaitable[object]], *, ops: int = 5_000, repeats: int = 5
) -> float:
    """Median seconds per awaited call of ``fn`` over ``repeats`` batches of ``ops`` calls."""
    await fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(ops):
            await fn()
        samples.append((time.perf_counter() - start) / ops)
    return statistics.median(samples)


def print_table(title: str, rows: list[Row], *, baseline: str, unit: str = "us") -> None:
    """Print ``rows`` with time per op and the ratio ``row / baseline`` (lower is faster)."""
    scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
    base = next(r for r in rows if r.name == baseline).seconds_per_op
    extra_keys = sorted({k for r in rows for k in r.extra})
    name_width = max(len(r.name) for r in rows) + 2
    header = f"{'':{name_width}}{unit + '/op':>12}{'x ' + baseline:>{len(baseline) + 4}}"
    header += "".join(f"{k:>16}" for k in extra_keys)
    print(f"\n{title}")
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row.name:{name_width}}{row.seconds_per_op * scale:>12.2f}"
        line += f"{row.seconds_per_op / base:>{len(baseline) + 4}.2f}"
        line += "".join(f"{row.extra.get(k, ''):>16}" for k in extra_keys)
        print(line)
    print(flush=True)
