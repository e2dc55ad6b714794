"""Timeouts for many short awaits, checked by one shared timer instead of one timer per await.

``asyncio.timeout()`` schedules a timer handle on every entry and cancels it on exit: a heap push,
a handle object and a cancelled entry left in the loop's heap, several microseconds per call. A
Redis GET that usually answers in 50-100 us pays that on every call, for a timer that almost
never fires. ``DeadlineWatch.limit(seconds)`` instead records the deadline in a dict; one timer,
armed only while calls are in flight, expires the calls whose deadline has passed. A call is
cancelled at most ``granularity`` seconds after its deadline (10 ms by default), and then raises
``TimeoutError`` exactly as ``asyncio.timeout()`` would, with the task's cancellation count
restored, so an outer cancellation still propagates as ``CancelledError``.

Use it from inside a task (every coroutine run by asyncio is), as a plain ``with``:

```python
watch = DeadlineWatch()
with watch.limit(0.25):
    value = await client.get(key)
```
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["DeadlineWatch"]


class _Limit:
    """One bounded await; created by `DeadlineWatch.limit`."""

    __slots__ = ("_cancelling", "_task", "_watch", "deadline", "expired", "seconds")

    def __init__(self, watch: DeadlineWatch, seconds: float) -> None:
        self._watch = watch
        self.seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self.deadline = 0.0
        self.expired = False

    def __enter__(self) -> _Limit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("DeadlineWatch.limit() must be used inside an asyncio task")
        self._task = task
        self._cancelling = task.cancelling()
        self._watch.register(self, task.get_loop())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._watch.discard(self)
        if not self.expired:
            return
        task = self._task
        assert task is not None
        # Only our own cancellation becomes a TimeoutError; one from outside still propagates.
        if task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError(f"no answer within {self.seconds:g} s") from exc

    def expire(self) -> None:
        """Cancel the bounded await (its deadline passed)."""
        self.expired = True
        if self._task is not None:
            self._task.cancel()


class DeadlineWatch:
    """Bounds awaits with deadlines checked every ``granularity`` seconds by one timer.

    One watch serves one event loop at a time (a new loop takes it over once the old one's
    calls are gone). Not thread-safe, like everything that runs on an event loop.

    Args:
        granularity: how late, at most, a call is cancelled after its deadline, in seconds.

    Raises:
        ValueError: ``granularity`` is not positive.
    """

    def __init__(self, *, granularity: float = 0.01) -> None:
        if not granularity > 0:
            raise ValueError(f"granularity must be positive, got {granularity!r}")
        self.granularity = granularity
        self._active: dict[_Limit, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def limit(self, seconds: float) -> _Limit:
        """A context manager that raises ``TimeoutError`` once ``seconds`` have passed inside it."""
        return _Limit(self, seconds)

    @property
    def in_flight(self) -> int:
        """How many bounded calls are running now."""
        return len(self._active)

    def register(self, limit: _Limit, loop: asyncio.AbstractEventLoop) -> None:
        """Start watching ``limit`` (its ``__enter__`` calls this)."""
        if loop is not self._loop:
            self._switch(loop)
        now = loop.time()
        limit.deadline = now + limit.seconds
        self._active[limit] = None
        timer = self._timer
        if timer is None:
            self._arm(loop, max(limit.deadline, now + self.granularity))
        elif limit.deadline + self.granularity < self._timer_at:
            # A shorter limit than those in flight: check earlier (equal limits never get here).
            timer.cancel()
            self._arm(loop, max(limit.deadline, now + self.granularity))

    def discard(self, limit: _Limit) -> None:
        """Stop watching ``limit`` (its ``__exit__`` calls this)."""
        self._active.pop(limit, None)

    def _switch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Calls of a loop that is gone can never be resumed; forget them.
        self._active.clear()
        self._loop = loop

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._timer_at = when
        self._timer = loop.call_at(when, self._check)

    def _check(self) -> None:
        self._timer = None
        loop = self._loop
        if loop is None or not self._active:
            return
        now = loop.time()
        due = [limit for limit in self._active if limit.deadline <= now]
        for limit in due:
            del self._active[limit]
            limit.expire()
        if self._active:
            earliest = min(limit.deadline for limit in self._active)
            self._arm(loop, max(earliest, now + self.granularity))
