"""Summarise a py-spy sample of a server under load as "where the request time goes".

``py-spy record --format raw --threads`` writes one collapsed stack per line: the thread
(``thread (6447): MainThread``), then frames root first (``function (file:line)``), separated by
``;``, then a space and the number of samples. Each sample is charged to the
*innermost* frame that belongs to a known part of the stack (so time in PyJWT called by the
authentication middleware is authentication, time in pydantic is validation and serialization,
time in redis-py and SQLAlchemy is their own row, with the SQL callers listed apart), event-loop
bookkeeping only when no other part of the stack is known, and samples of threads other than the
event loop's to that thread (aiosqlite runs SQLite on a thread per connection).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

__all__ = [
    "CATEGORIES",
    "FALLBACK",
    "IDLE",
    "OTHER",
    "OTHER_THREADS",
    "SQLITE_THREADS",
    "SQL_LOOP",
    "classify",
    "sql_callers",
    "summarise",
]

IDLE = "idle: event loop waiting for I/O"
OTHER = "other Python"
SQLITE_THREADS = "SQLite (aiosqlite worker threads)"
OTHER_THREADS = "other threads"
SQL_LOOP = "SQLAlchemy / aiosqlite (event loop side)"

# (category, substrings of a "function (file:line)" frame); the first category whose pattern
# matches the innermost matching frame wins, so more specific patterns come first.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("logging/__init__.py",)),
    ("?fields selection", ("examples/app/listing.py",)),
    ("metering", ("examples/app/metering.py",)),
    ("tenant and tier lookup", ("relaypoint_tenancy/", "examples/app/tenants.py")),
    ("RBAC (permission dependencies)", ("relaypoint_core/rbac", "examples/app/permissions.py")),
    ("authentication (token verify, revocation)", ("relaypoint_core/auth", "/jwt/")),
    ("rate limiting", ("relaypoint_ratelimit/",)),
    ("cache", ("relaypoint_cache/",)),
    ("metrics middleware", ("relaypoint_core/monitoring", "prometheus_client/")),
    (SQL_LOOP, ("sqlalchemy/", "aiosqlite/")),
    (
        "response validation and serialization",
        ("pydantic", "fastapi/encoders.py", "serialize_response", "json/"),
    ),
    ("FastAPI dependency solving", ("fastapi/dependencies/",)),
    ("FastAPI / Starlette routing", ("fastapi/routing.py", "starlette/routing.py")),
    (
        "HTTP middlewares (TrustedHost, CORS, GZip, security headers)",
        ("starlette/middleware/", "relaypoint_core/http/"),
    ),
    ("request/response objects", ("starlette/requests.py", "starlette/responses.py")),
    ("route handlers and app context", ("examples/app/",)),
    ("Redis client (redis-py, hiredis)", ("redis/", "hiredis")),
    ("uvicorn HTTP protocol (h11)", ("uvicorn/", "httptools", "h11/")),
    ("socket reads and writes (asyncio transport, syscalls)", ("asyncio/selector_events.py",)),
)
# Charged only when no frame of the stack belongs to a category above: the event loop's own
# bookkeeping, and asyncio code run on behalf of a known part (streams read by redis-py).
FALLBACK = ("asyncio machinery (event loop, tasks, futures)", ("asyncio/",))


def classify(stack: str) -> str:
    """The category of one collapsed stack (frames root first, ``;``-separated)."""
    frames = stack.split(";")
    thread = frames[0] if frames and frames[0].startswith("thread (") else ""
    if thread:
        frames = frames[1:]
    if frames and "selectors.py" in frames[-1] and frames[-1].split(" (")[0].endswith("select"):
        return IDLE
    if thread and "MainThread" not in thread:
        if "_connection_worker_thread" in thread or any("aiosqlite/" in f for f in frames):
            return SQLITE_THREADS
        return OTHER_THREADS
    for frame in reversed(frames):
        for category, patterns in CATEGORIES:
            if any(p in frame for p in patterns):
                return category
    category, patterns = FALLBACK
    if any(p in frame for frame in frames for p in patterns):
        return category
    return OTHER


def summarise(lines: Iterable[str]) -> Counter[str]:
    """Samples per category of a ``py-spy --format raw`` file's lines."""
    totals: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            totals[classify(stack)] += int(count)
    return totals


def _short(frame: str) -> str:
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for root in ("examples/app/", "relaypoint_"):
        if root in path:
            path = path[path.index(root) :]
    return f"{function} ({path})"


def sql_callers(lines: Iterable[str]) -> Counter[str]:
    """Event-loop samples inside SQLAlchemy/aiosqlite by caller: innermost app -> SDK frame."""
    callers: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit() or classify(stack) != SQL_LOOP:
            continue
        frames = stack.split(";")
        first_sql = next(i for i, f in enumerate(frames) if "sqlalchemy/" in f or "aiosqlite/" in f)
        app = [_short(f) for f in frames[:first_sql] if "examples/app/" in f]
        sdk = [_short(f) for f in frames[:first_sql] if "relaypoint_" in f]
        chain = [*app[-1:], *sdk[-1:]]
        callers[" -> ".join(chain) or "(no SDK or app frame)"] += int(count)
    return callers
