"""Keep ``relaypoint_db_pool_*`` current from a SQLAlchemy engine's pool events.

``track_sqlalchemy_pool(engine)`` listens to the pool's ``checkout``/``checkin`` events and
republishes "connections in use" and "capacity" (pool size plus allowed overflow) on every change,
which is what the ``> 90% of pool`` alert divides. SQLAlchemy is imported only when you call it.
"""

from __future__ import annotations

from typing import Any

from relaypoint_core.monitoring.monitor import PerformanceMonitor, performance_monitor
from relaypoint_core.optional import require_module

__all__ = ["pool_capacity", "track_sqlalchemy_pool"]


def pool_capacity(pool: Any) -> int | None:
    """Most connections ``pool`` will hand out at once, or ``None`` when it has no bound."""
    size = getattr(pool, "size", None)
    if not callable(size):
        return None  # NullPool, StaticPool, ...: no fixed capacity to compare against
    overflow = getattr(pool, "_max_overflow", 0)
    if overflow < 0:
        return None  # max_overflow=-1 means unbounded
    return int(size()) + int(overflow)


def track_sqlalchemy_pool(
    engine: Any, *, name: str = "default", monitor: PerformanceMonitor | None = None
) -> None:
    """Publish the pool usage of ``engine`` (``Engine``, ``AsyncEngine`` or a ``Pool``)."""
    sqlalchemy_event = require_module(
        "sqlalchemy.event", extra="postgres", feature="database pool metrics"
    )
    target = getattr(engine, "sync_engine", engine)
    pool = getattr(target, "pool", target)
    capacity = pool_capacity(pool)
    if capacity is None:
        raise ValueError(
            f"{type(pool).__name__} has no fixed size, so pool usage cannot be reported; "
            "use a QueuePool (the default for server databases)"
        )
    mon = performance_monitor if monitor is None else monitor

    # Counted here rather than read from pool.checkedout(): inside the checkin event the pool
    # still counts the connection being returned.
    in_use = max(int(pool.checkedout()), 0)

    def publish() -> None:
        mon.set_db_pool_usage(in_use=in_use, size=capacity, pool=name)

    def on_checkout(*_: Any) -> None:
        nonlocal in_use
        in_use += 1
        publish()

    def on_checkin(*_: Any) -> None:
        nonlocal in_use
        in_use = max(in_use - 1, 0)
        publish()

    sqlalchemy_event.listen(pool, "checkout", on_checkout)
    sqlalchemy_event.listen(pool, "checkin", on_checkin)
    publish()
