"""Helpers for your own tests: a fake clock, an L1-only cache on it, and a counting factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Unpack

from relaypoint_cache.engine import Cache
from relaypoint_cache.settings import CacheOptions
from relaypoint_core.testing import FakeClock, tenant_scope

__all__ = ["CountingFactory", "FakeClock", "local_cache", "tenant_scope"]


def local_cache(clock: FakeClock | None = None, /, **options: Unpack[CacheOptions]) -> Cache:
    """An L1-only `Cache` on a `FakeClock` (advance it instead of sleeping).

    Args:
        clock: The clock (a new `FakeClock` when neither this nor ``clock=`` is given).
        **options: `CacheSettings` fields; ``report_to_monitor`` defaults to ``False``.

    Returns:
        The cache.
    """
    options.setdefault("report_to_monitor", False)
    options.setdefault("clock", clock or FakeClock())
    return Cache("memory://", **options)


class CountingFactory:
    """An async factory that counts its calls and can pause, fail or change its result."""

    def __init__(self, result: Any = "value", *, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.calls = 0
        self.error: Exception | None = None
        self.on_call: Callable[[], None] | None = None

    async def __call__(self) -> Any:
        self.calls += 1
        if self.on_call is not None:
            self.on_call()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.result
