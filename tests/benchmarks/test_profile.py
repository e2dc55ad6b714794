"""benchmarks._profile: each py-spy sample is charged to the innermost known part of the stack."""

from __future__ import annotations

from benchmarks._profile import (
    IDLE,
    OTHER,
    SQL_LOOP,
    SQLITE_THREADS,
    classify,
    sql_callers,
    summarise,
)

MAIN = "thread (6447): MainThread"
LOOP = "BaseEventLoop.run_forever (asyncio/base_events.py:607)"
AUTH = "AuthenticationMiddleware.__call__ (relaypoint_core/auth/asgi.py:80)"
LIMITER = "EnterpriseRateLimiter.__call__ (relaypoint_ratelimit/asgi.py:120)"


def stack(*frames: str) -> str:
    return ";".join([MAIN, LOOP, *frames])


def test_time_in_a_library_is_charged_to_the_component_that_called_it() -> None:
    assert classify(stack(AUTH, "PyJWT.decode (jwt/api_jwt.py:200)")) == (
        "authentication (token verify, revocation)"
    )
    assert classify(stack(LIMITER, "Logger.debug (logging/__init__.py:1)")) == "logging"


def test_redis_and_its_asyncio_reads_are_the_redis_client_row() -> None:
    redis_call = stack(
        LIMITER,
        "Redis.execute_command (redis/asyncio/client.py:9)",
        "StreamReader.read (asyncio/streams.py:666)",
    )
    assert classify(redis_call) == "Redis client (redis-py, hiredis)"


def test_event_loop_bookkeeping_is_charged_only_when_nothing_else_is_known() -> None:
    assert classify(stack("BaseEventLoop._run_once (asyncio/base_events.py:1922)")) == (
        "asyncio machinery (event loop, tasks, futures)"
    )
    assert classify(stack(LIMITER, "Task.__step (asyncio/tasks.py:1)")) == "rate limiting"


def test_the_innermost_known_frame_decides() -> None:
    inner = stack(AUTH, LIMITER, "Logger.info (logging/__init__.py:1489)")
    assert classify(inner) == "logging"
    assert classify(stack(AUTH, LIMITER)) == "rate limiting"


def test_samples_of_aiosqlite_threads_are_charged_to_sqlite() -> None:
    worker = ";".join(
        [
            "thread (11022): Thread-18 (_connection_worker_thread)",
            "Thread._bootstrap (threading.py:1002)",
            "_connection_worker_thread (aiosqlite/core.py:59)",
        ]
    )
    assert classify(worker) == SQLITE_THREADS


def test_waiting_in_select_is_idle_and_unknown_code_is_other() -> None:
    assert classify(stack("EpollSelector.select (selectors.py:468)")) == IDLE
    assert classify(";".join([MAIN, "main (mine.py:1)"])) == OTHER


def test_summarise_adds_the_counts_of_each_category() -> None:
    lines = [
        f"{stack(AUTH)} 3\n",
        f"{stack(AUTH, 'encode (jwt/api_jws.py:1)')} 2\n",
        f"{stack(LIMITER)} 5\n",
        "garbage line without a count\n",
    ]
    totals = summarise(lines)
    assert totals == {"authentication (token verify, revocation)": 5, "rate limiting": 5}


def test_sql_samples_are_grouped_by_their_app_and_sdk_callers() -> None:
    lines = [
        stack(
            "TenantService.get (examples/app/tenants.py:123)",
            "TenantManager._find (relaypoint_tenancy/manager.py:160)",
            "AsyncSession.execute (sqlalchemy/ext/asyncio/session.py:652)",
        )
        + " 4",
        stack(AUTH) + " 9",
    ]
    assert classify(lines[0].rpartition(" ")[0]) == SQL_LOOP
    assert sql_callers(lines) == {
        "TenantService.get (examples/app/tenants.py) -> "
        "TenantManager._find (relaypoint_tenancy/manager.py)": 4
    }
