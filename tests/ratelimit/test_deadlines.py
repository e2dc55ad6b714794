"""Deadlines: one timer bounding many calls in flight, with asyncio.timeout's cancellation rules."""

from __future__ import annotations

import asyncio

import pytest

from relaypoint_ratelimit.deadlines import Deadlines


async def bounded(deadlines: Deadlines, timeout: float, call: asyncio.Future[str]) -> str:
    """What the limiter does around a backend call: 'timeout' when the deadline passed."""
    task = deadlines.begin(timeout)
    try:
        try:
            return await call
        finally:
            timed_out = deadlines.end(task)
    except asyncio.CancelledError:
        if not timed_out:
            raise
        return "timeout"


async def test_a_call_past_its_deadline_times_out_and_its_task_carries_on() -> None:
    deadlines = Deadlines()
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    assert await bounded(deadlines, 0.01, never) == "timeout"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # the cancellation was withdrawn
    await asyncio.sleep(0)  # and nothing is left to cancel this task later
    assert len(deadlines) == 0


async def test_a_call_in_time_is_left_alone() -> None:
    deadlines = Deadlines()
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, "answer")
    assert await bounded(deadlines, 5, done) == "answer"
    assert len(deadlines) == 0


async def test_only_the_overdue_calls_of_many_are_cancelled() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    slow = [loop.create_future() for _ in range(3)]
    # A long deadline armed first, shorter ones after it: the timer must move forward for them.
    long_call = asyncio.create_task(bounded(deadlines, 30, slow[0]))
    await asyncio.sleep(0)
    short_calls = [asyncio.create_task(bounded(deadlines, 0.01, f)) for f in slow[1:]]
    assert await asyncio.gather(*short_calls) == ["timeout", "timeout"]
    assert not long_call.done()
    slow[0].set_result("late but in time")
    assert await long_call == "late but in time"
    assert len(deadlines) == 0


async def test_a_cancellation_from_elsewhere_still_propagates() -> None:
    deadlines = Deadlines()
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(bounded(deadlines, 30, never))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0


async def test_begin_needs_a_task() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    # A callback scheduled on the loop runs outside any task.
    outcome: asyncio.Future[BaseException | None] = loop.create_future()

    def outside_a_task() -> None:
        try:
            deadlines.begin(1)
        except RuntimeError as exc:
            outcome.set_result(exc)
        else:
            outcome.set_result(None)

    loop.call_soon(outside_a_task)
    assert isinstance(await outcome, RuntimeError)
