"""Single-flight: concurrent misses of one key in this process share one computation."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Hashable
from typing import Any

__all__ = ["SingleFlight"]


class SingleFlight:
    """The computations in flight, by key; each leaves the map when it finishes."""

    __slots__ = ("_inflight",)

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._inflight

    def running(self, key: Hashable) -> asyncio.Task[Any] | None:
        """The computation of ``key`` a caller on this event loop can join, if any."""
        task = self._inflight.get(key)
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            return task
        return None

    def start(self, key: Hashable, computation: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(computation)
        self._inflight[key] = task
        task.add_done_callback(functools.partial(self._forget, key))
        return task

    def _forget(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody awaited is not logged as lost
