"""Per-call deadlines for many calls in flight, on one event-loop timer.

``asyncio.timeout`` arms and cancels a timer per call; at thousands of backend calls a second
that is a measurable share of each call, and the loop's timer heap fills with cancelled
entries. ``Deadlines`` keeps the calls in flight in a dict and one timer set for the
earliest deadline among them: when it fires, every call past its deadline is cancelled (its
task, as ``asyncio.timeout`` does) and the timer is set again for the next one. The task's
cancellation is withdrawn when the call ends, so the caller sees a timeout, not a cancellation;
a cancellation from elsewhere still propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Deadlines"]

_Task = asyncio.Task[Any]


class Deadlines:
    """Bounds calls made by asyncio tasks: ``begin(timeout)`` before the await, ``end()`` after.

    ::

        task = deadlines.begin(0.1)
        try:
            result = await call()
        finally:
            timed_out = deadlines.end(task)
        # CancelledError with timed_out True: the deadline passed (a timeout)
    """

    __slots__ = ("_expired", "_inflight", "_loop", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._inflight: dict[_Task, tuple[float, int]] = {}
        self._expired: set[_Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def begin(self, timeout: float) -> _Task:
        """Start bounding the current task's call to ``timeout`` seconds."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadlines.begin() must be called from an asyncio task")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._use(loop)
        deadline = loop.time() + timeout
        self._inflight[task] = (deadline, task.cancelling())
        if self._timer is None or deadline < self._timer_at:
            self._arm(loop, deadline)
        return task

    def end(self, task: _Task) -> bool:
        """Stop bounding ``task``'s call. True when its deadline cancelled it and that was the
        only cancellation (withdrawn here): the call timed out."""
        entry = self._inflight.pop(task, None)
        if entry is None:  # begun on an event loop since replaced
            return False
        cancelling = entry[1]
        if self._expired and task in self._expired:
            self._expired.discard(task)
            return task.uncancel() <= cancelling
        return False

    def __len__(self) -> int:
        """Calls in flight."""
        return len(self._inflight)

    def _use(self, loop: asyncio.AbstractEventLoop) -> None:
        # A limiter may outlive an event loop (tests run one per test): start afresh on the new one.
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._inflight.clear()
        self._expired.clear()
        self._loop = loop

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._expire)
        self._timer_at = when

    def _expire(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time()
        upcoming: float | None = None
        for task, (deadline, _) in self._inflight.items():
            if deadline <= now:
                if task not in self._expired:
                    self._expired.add(task)
                    task.cancel()  # only schedules: the dict is not changed while iterating
            elif upcoming is None or deadline < upcoming:
                upcoming = deadline
        if upcoming is not None:
            self._arm(loop, upcoming)
