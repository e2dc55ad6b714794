"""prometheus-client multiprocess mode (gunicorn/uvicorn workers) made safe to start and stop.

How it works: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory *before prometheus_client is
imported*, every worker writes its metric values to memory-mapped files there, and a scrape
aggregates all files. Two things go wrong in practice, and this module handles both:

* files left by a previous run (a crash, a redeploy) keep old counters alive: call
  `prepare_multiprocess_dir` once in the master process before workers start; it creates
  the directory and removes stale ``*.db`` files;
* a worker that exits leaves its gauges counted as live: call `mark_worker_dead` from the
  server's child-exit hook (gunicorn: ``child_exit``).

See docs/observability.md for a gunicorn configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess as _mp

from relaypoint_core.monitoring.errors import MonitoringConfigurationError

__all__ = [
    "MULTIPROC_ENV",
    "mark_worker_dead",
    "multiprocess_dir",
    "multiprocess_registry",
    "prepare_multiprocess_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LEGACY_ENV = "prometheus_multiproc_dir"


def multiprocess_dir() -> str | None:
    """The configured multiprocess directory, or ``None`` in single-process mode."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(_LEGACY_ENV) or None


def prepare_multiprocess_dir(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Create the directory and delete metric files of earlier runs; call once before forking.

    Returns the directory, or ``None`` when multiprocess mode is off and no ``path`` was given.
    With ``path``, also exports ``PROMETHEUS_MULTIPROC_DIR`` so workers started afterwards (and
    importing prometheus_client afterwards) use it.
    """
    target = os.fspath(path) if path is not None else multiprocess_dir()
    if target is None:
        return None
    directory = Path(target)
    if directory.exists() and not directory.is_dir():
        raise MonitoringConfigurationError(
            f"{MULTIPROC_ENV}={target!r} is not a directory; point it at an empty, writable one"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    if path is not None:
        os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def mark_worker_dead(pid: int, path: str | os.PathLike[str] | None = None) -> None:
    """Drop the live-gauge files of the exited worker ``pid`` (counters and histograms stay)."""
    target = os.fspath(path) if path is not None else multiprocess_dir()
    if target is None:
        return
    _mp.mark_process_dead(pid, target)  # type: ignore[no-untyped-call]


def multiprocess_registry(path: str | os.PathLike[str] | None = None) -> CollectorRegistry:
    """A fresh registry aggregating every worker's files (build one per scrape)."""
    target = os.fspath(path) if path is not None else multiprocess_dir()
    if target is None:
        raise MonitoringConfigurationError(
            f"multiprocess metrics need {MULTIPROC_ENV} set to a shared, writable directory"
        )
    if not Path(target).is_dir():
        raise MonitoringConfigurationError(
            f"{MULTIPROC_ENV}={target!r} does not exist; call prepare_multiprocess_dir() at start-up"
        )
    registry = CollectorRegistry()
    _mp.MultiProcessCollector(registry, path=target)  # type: ignore[no-untyped-call]
    return registry
