"""DeadlineWatch: bounded awaits expire as asyncio.timeout's would, and nothing else is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from relaypoint_core.deadlines import DeadlineWatch


async def test_a_call_that_answers_returns_its_value() -> None:
    watch = DeadlineWatch()
    with watch.limit(5.0):
        await asyncio.sleep(0)  # a yield: the bounded block really awaits
        value = 42
    assert value == 42
    assert watch.in_flight == 0


async def test_a_call_that_never_answers_raises_timeout_error() -> None:
    watch = DeadlineWatch(granularity=0.005)
    never = asyncio.Event()
    with pytest.raises(TimeoutError, match=r"no answer within 0\.02 s"), watch.limit(0.02):
        await never.wait()
    assert watch.in_flight == 0


async def test_the_task_is_not_left_cancelled_after_a_timeout() -> None:
    watch = DeadlineWatch(granularity=0.005)
    never = asyncio.Event()
    with pytest.raises(TimeoutError), watch.limit(0.01):
        await never.wait()
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # suspends once: would raise CancelledError if one were pending


async def test_a_finished_call_is_never_cancelled_later() -> None:
    watch = DeadlineWatch(granularity=0.005)
    with watch.limit(0.01):
        await asyncio.sleep(0)  # a yield inside the limit
    # Run the watch's own timer past that deadline, without guessing how long that takes: a
    # later call that never answers times out only once the timer has checked after it. A stray
    # cancellation of this task by the first limit would surface here as CancelledError.
    never = asyncio.Event()
    with pytest.raises(TimeoutError, match=r"no answer within 0\.02 s"), watch.limit(0.02):
        await never.wait()
    await asyncio.sleep(0)  # and nothing is left pending afterwards
    assert watch.in_flight == 0


async def test_an_outer_cancellation_still_propagates() -> None:
    watch = DeadlineWatch()
    entered = asyncio.Event()

    async def bounded() -> None:
        with watch.limit(30.0):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(bounded())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert watch.in_flight == 0


async def test_a_short_limit_after_a_long_one_expires_on_its_own_deadline() -> None:
    watch = DeadlineWatch(granularity=0.005)
    long_entered = asyncio.Event()

    async def long_call() -> None:
        with watch.limit(30.0):
            long_entered.set()
            await asyncio.Event().wait()

    long_task = asyncio.create_task(long_call())
    await long_entered.wait()
    try:
        # If the watch only checked at the long call's deadline, wait_for would fire first and
        # its TimeoutError would carry no "no answer within" message.
        with pytest.raises(TimeoutError, match=r"no answer within 0\.02 s"):
            await asyncio.wait_for(_bounded_wait(watch, 0.02), timeout=10)
    finally:
        long_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long_task


async def _bounded_wait(watch: DeadlineWatch, seconds: float) -> None:
    with watch.limit(seconds):
        await asyncio.Event().wait()


async def test_only_the_calls_that_never_answer_time_out() -> None:
    watch = DeadlineWatch(granularity=0.005)
    release = asyncio.Event()

    async def call(answers: bool) -> str:
        with watch.limit(0.05):
            if answers:
                await release.wait()
            else:
                await asyncio.Event().wait()
        return "answered"

    tasks = [asyncio.create_task(call(i % 2 == 0)) for i in range(40)]
    await asyncio.sleep(0)  # a yield: every call enters its limit before the release
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    answered, silent = outcomes[::2], outcomes[1::2]
    assert answered == ["answered"] * 20
    assert all(isinstance(o, TimeoutError) for o in silent)
    assert watch.in_flight == 0


def test_outside_a_task_it_refuses() -> None:
    watch = DeadlineWatch()
    with pytest.raises(RuntimeError), watch.limit(1.0):
        pass


def test_granularity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="granularity"):
        DeadlineWatch(granularity=0)


def test_a_watch_moves_to_a_new_event_loop() -> None:
    watch = DeadlineWatch(granularity=0.005)

    async def timed_out() -> bool:
        try:
            with watch.limit(0.01):
                await asyncio.Event().wait()
        except TimeoutError:
            return True
        return False

    assert asyncio.run(timed_out())
    assert asyncio.run(timed_out())
