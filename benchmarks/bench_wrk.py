"""Whole stack under wrk: bare route, peer stack, RelayPoint (memory, Redis); round trips; profile.

Every server is a uvicorn process with one worker, started by this module and measured by wrk
(``benchmarks._wrk``) from another process, so the load generator is no longer the bottleneck
the in-process ``bench_app`` rows hit. All four servers run during the whole measurement and are
measured in interleaved rounds (median of the rounds per row), so every ratio compares moments of
the same load on the shared machine. The wrk script spreads the requests over sixteen
ENTERPRISE tenants (one user each), so no rate limit refuses any request; a run with a non-2xx
answer fails. Redis is a private ``redis-server`` started for the run, so ``INFO commandstats``
counts only this app's commands.

Then, on the same servers: Redis commands per request by component (``INFO commandstats`` deltas,
cross-checked with ``redis-cli MONITOR`` classified by key), and a py-spy sample of each server
under wrk, charged to the part of the stack it ran in (``benchmarks._profile``), with the
server's CPU time per request read from ``/proc`` and garbage-collection time from ``gc.callbacks``.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import RedisServer

from benchmarks._harness import Row, print_table
from benchmarks._profile import IDLE, sql_callers, summarise
from benchmarks._servers import free_port, server_env, start_server, stop_server
from benchmarks._wrk import WrkResult, run_wrk, wrk_binary
from benchmarks.bench_app import QUIET_APP, prepare_reference_app
from benchmarks.peer_stack import peer_token

CONNECTIONS = 16
TENANTS = 16
SECONDS = float(os.environ.get("RP_BENCH_WRK_SECONDS", "3"))
ROUNDS = int(os.environ.get("RP_BENCH_WRK_ROUNDS", "3"))
BARE = "bare FastAPI route"
PEER = "peer stack (slowapi, instrumentator, PyJWT, cashews)"
RP_MEMORY = "RelayPoint app, memory backends"
RP_REDIS = "RelayPoint app, Redis backends"
RP_LEASED = "RelayPoint app, Redis, quota leasing 5 %"
_SHORT = {
    BARE: "bare",
    PEER: "peer",
    RP_MEMORY: "RP mem",
    RP_REDIS: "RP Redis",
    RP_LEASED: "RP leased",
}

# The reference app as bench_app starts it, plus garbage-collection accounting that SIGUSR1
# writes to RP_BENCH_GC_FILE (so the profile window can read GC time before and after).
_APP_WITH_GC = (
    """
import gc, json, os, signal, time
_gc = {"seconds": 0.0, "collections": 0, "started": 0.0}
def _on_gc(phase, info):
    if phase == "start":
        _gc["started"] = time.perf_counter()
    else:
        _gc["seconds"] += time.perf_counter() - _gc["started"]
        _gc["collections"] += 1
gc.callbacks.append(_on_gc)
def _dump(*_):
    with open(os.environ["RP_BENCH_GC_FILE"], "w") as f:
        json.dump(_gc, f)
signal.signal(signal.SIGUSR1, _dump)
"""
    + QUIET_APP
)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    targets: list[tuple[str, dict[str, str]]]
    gc_file: Path | None = None
    results: list[tuple[WrkResult, float]] = field(default_factory=list)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(server: Server, seconds: float) -> tuple[WrkResult, float]:
    """One wrk run and the server's CPU seconds per request during it."""
    before = _cpu_seconds(server.process.pid)
    result = run_wrk(server.base, server.targets, seconds=seconds, connections=CONNECTIONS)
    cpu = _cpu_seconds(server.process.pid) - before
    if not result.clean:
        raise RuntimeError(
            f"{server.name}: {result.non_2xx} non-2xx answers and {result.socket_errors} socket "
            "errors; the measured run must refuse nothing"
        )
    return result, cpu / max(result.requests, 1)


def _uvicorn(target: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", target, "--factory", "--port", str(port)),
        *("--http", "h11"),  # the protocol family the reference app runs on (DeadlineH11Protocol)
        *("--log-level", "warning", "--no-access-log"),
    ]


def _start_bare() -> Server:
    port = free_port()
    process = start_server(_uvicorn("benchmarks.bench_app:bare_app", port), server_env(), port)
    targets = [(f"/api/v1/workflows/w{i}", {}) for i in range(TENANTS)]
    return Server(BARE, process, f"http://127.0.0.1:{port}", targets)


def _start_peer() -> Server:
    port = free_port()
    secret = secrets.token_hex(32)
    env = {**server_env(), "RP_PEER_SECRET": secret}
    process = start_server(_uvicorn("benchmarks.peer_stack:peer_app", port), env, port)
    targets = [
        (
            f"/api/v1/workflows/wf{i}",
            {"Authorization": f"Bearer {peer_token(secret, f'tenant{i}', 'admin')}"},
        )
        for i in range(TENANTS)
    ]
    return Server(PEER, process, f"http://127.0.0.1:{port}", targets)


def _start_reference(name: str, workdir: Path, extra: dict[str, str]) -> Server:
    port = free_port()
    gc_file = workdir / f"gc-{port}.json"
    env = {
        **server_env(),
        "ENVIRONMENT": "development",
        "RELAYPOINT_PORT": str(port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / f'app-{port}.sqlite3'}",
        "RELAYPOINT_ANONYMOUS_TIER": "ENTERPRISE",
        "RP_BENCH_GC_FILE": str(gc_file),
        **extra,
    }
    process = start_server([sys.executable, "-c", _APP_WITH_GC], env, port)
    base = f"http://127.0.0.1:{port}"
    return Server(name, process, base, prepare_reference_app(base, TENANTS), gc_file)


def _median_row(name: str, server: Server, bare: Server) -> Row:
    rps = statistics.median(r.rps for r, _ in server.results)
    p50 = statistics.median(r.p50 for r, _ in server.results)
    p99 = statistics.median(r.p99 for r, _ in server.results)
    cpu = statistics.median(c for _, c in server.results)
    bare_rps = statistics.median(r.rps for r, _ in bare.results)
    bare_p99 = statistics.median(r.p99 for r, _ in bare.results)
    return Row(
        name,
        1.0 / rps,
        {
            "req/s": f"{rps:,.0f}",
            "% of bare req/s": f"{100 * rps / bare_rps:.0f}%",
            "p50 ms": f"{p50 * 1e3:.2f}",
            "p99 ms": f"{p99 * 1e3:.2f}",
            "p99 x bare": f"{p99 / bare_p99:.2f}",
            "CPU us/req": f"{cpu * 1e6:.0f}",
        },
    )


def _print_load_tables(servers: list[Server]) -> None:
    bare = servers[0]
    rows = [_median_row(s.name, s, bare) for s in servers]
    print_table(
        f"Cached workflow read under wrk (-t1 -c{CONNECTIONS}, {SECONDS:.0f} s x {ROUNDS} "
        "interleaved rounds, medians; uvicorn 1 worker, h11 for all: bare and peer --http h11, "
        "the app its production DeadlineH11Protocol; time = 1 / req/s)",
        rows,
        baseline=BARE,
        unit="us",
    )
    peer = next(s for s in servers if s.name == PEER)
    peer_rps = statistics.median(r.rps for r, _ in peer.results)
    vs_peer = [
        Row(
            r.name,
            r.seconds_per_op,
            {
                "req/s x peer": f"{(1 / r.seconds_per_op) / peer_rps:.2f}",
                "p99 ms": r.extra["p99 ms"],
                "CPU us/req": r.extra["CPU us/req"],
            },
        )
        for r in rows
        if r.name != BARE
    ]
    print_table("The same read against the peer stack (same run)", vs_peer, baseline=PEER)


# -- Redis round trips per request -------------------------------------------------------------
def component_of(key: str | None, command: str) -> str:
    if key is None:
        return f"no key ({command})"
    # Both Redis apps' prefixes: "rp:" and the leased app's "rpl:".
    _, _, rest = key.partition(":")
    for part, name in (
        ("rl:", "rate limit"),
        ("auth:", "revocation checks (auth)"),
        ("tenancy:", "tenant and tier lookup"),
        ("cache:", "cache"),
    ):
        if rest.startswith(part):
            return name
    return f"other ({command} {key[:24]})"


def _monitor_line(line: str) -> tuple[str, str | None] | None:
    """``(command, first key)`` of one ``MONITOR`` line; ``None`` for script-internal lines."""
    head, sep, rest = line.partition("] ")
    if not sep or head.endswith(" lua") or "lua]" in head:
        return None
    try:
        words = shlex.split(rest)
    except ValueError:
        return None
    if not words:
        return None
    command = words[0].upper()
    if command in {"EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL"}:
        key = words[3] if len(words) > 3 and words[2] != "0" else None
    elif command in {"PING", "INFO", "MONITOR", "SUBSCRIBE", "CLIENT", "HELLO", "SELECT"}:
        key = None
    else:
        key = words[1] if len(words) > 1 else None
    return command, key


def count_round_trips(redis_url: str, server: Server) -> None:
    """Commands per request while wrk runs, by command (INFO) and by component (MONITOR)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    with tempfile.TemporaryDirectory(prefix="rp-monitor-") as folder:
        log = Path(folder) / "monitor.log"
        with log.open("w") as out:
            monitor = subprocess.Popen(
                ["redis-cli", "-u", redis_url, "monitor"], stdout=out, stderr=subprocess.DEVNULL
            )
            time.sleep(0.5)
            before = client.info("commandstats")
            result = run_wrk(server.base, server.targets, seconds=SECONDS, connections=CONNECTIONS)
            after = client.info("commandstats")
            monitor.terminate()
            monitor.wait(timeout=10)
        lines = log.read_text(errors="replace").splitlines()
    client.close()
    if not result.clean:
        raise RuntimeError(f"round-trip run was refused: {result}")
    requests = result.requests
    by_command = {
        name.removeprefix("cmdstat_"): stats["calls"] - before.get(name, {}).get("calls", 0)
        for name, stats in after.items()
    }
    by_command = {k: v for k, v in by_command.items() if v and k not in {"info", "monitor"}}
    by_component: Counter[str] = Counter()
    for line in lines:
        parsed = _monitor_line(line)
        if parsed is not None and parsed[0] not in {"INFO", "MONITOR"}:
            by_component[component_of(parsed[1], parsed[0])] += 1
    total_info = sum(by_command.values())
    total_monitor = sum(by_component.values())
    print(
        f"\nRedis commands per request, authenticated cached read, steady state, {server.name} "
        f"({requests:,} requests under wrk)"
    )
    print(f"{'round trips by component (MONITOR, by key)':48}{'per request':>12}")
    print("-" * 60)
    for name in ("rate limit", "revocation checks (auth)", "tenant and tier lookup", "cache"):
        print(f"{name:48}{by_component.pop(name, 0) / requests:>12.3f}")
    for name, count in sorted(by_component.items()):
        print(f"{name:48}{count / requests:>12.3f}")
    print(f"{'total round trips (MONITOR)':48}{total_monitor / requests:>12.3f}")
    evalsha = by_command.get("evalsha", 0) / requests
    print(f"{'EVALSHA calls (INFO commandstats, cross-check)':48}{evalsha:>12.3f}")
    print(f"\n{'commands executed, incl. inside Lua (INFO delta)':48}{'per request':>12}")
    print("-" * 60)
    for name, count in sorted(by_command.items()):
        print(f"{name:48}{count / requests:>12.3f}")
    print(f"{'total commands executed (INFO)':48}{total_info / requests:>12.3f}\n", flush=True)


# -- profile -----------------------------------------------------------------------------------
def _gc_totals(server: Server) -> dict[str, float] | None:
    if server.gc_file is None:
        return None
    server.gc_file.unlink(missing_ok=True)
    os.kill(server.process.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            data: dict[str, float] = json.loads(server.gc_file.read_text())
            return data
        except (OSError, ValueError):
            time.sleep(0.05)
    return None


def profile(servers: list[Server]) -> None:
    """Sample each server with py-spy under wrk; print microseconds per request by category."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("\n(py-spy is not installed: no profile)")
        return
    columns: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    sql_notes: list[str] = []
    for server in servers:
        with tempfile.TemporaryDirectory(prefix="rp-pyspy-") as folder:
            out = Path(folder) / "samples.txt"
            gc_before = _gc_totals(server)
            spy = subprocess.Popen(
                [
                    *(py_spy, "record", "--pid", str(server.process.pid)),
                    *("--duration", f"{SECONDS + 1:.0f}", "--rate", "250"),
                    *("--format", "raw", "--threads", "--nonblocking", "--output", str(out)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(0.5)
            result, cpu_per_request = _measure(server, SECONDS)
            _, spy_err = spy.communicate(timeout=60)
            gc_after = _gc_totals(server)
            if spy.returncode != 0 or not out.exists():
                print(f"\n(py-spy failed on {server.name}: {spy_err.decode(errors='replace')})")
                return
            lines = out.read_text().splitlines()
            totals = summarise(lines)
            callers = sql_callers(lines)
        busy = sum(v for k, v in totals.items() if k != IDLE)
        column = {k: cpu_per_request * v / busy for k, v in totals.items() if k != IDLE}
        if gc_before is not None and gc_after is not None:
            gc_seconds = gc_after["seconds"] - gc_before["seconds"]
            collections = gc_after["collections"] - gc_before["collections"]
            column["(of which: garbage collection, gc.callbacks)"] = gc_seconds / result.requests
            notes.append(
                f"{server.name}: {collections / result.requests:.3f} collections per request"
            )
        column["total CPU per request (/proc)"] = cpu_per_request
        columns[server.name] = column
        for caller, samples in callers.most_common(5):
            sql_notes.append(
                f"{server.name}: {100 * samples / busy:4.1f}% of samples in SQL under {caller}"
            )
    names = list(columns)
    categories = sorted(
        {c for col in columns.values() for c in col},
        key=lambda c: (c.startswith(("total", "(of")), -columns[names[-1]].get(c, 0.0)),
    )
    width = max(len(c) for c in categories) + 2
    print(
        "\nWhere a request's CPU time goes: share of py-spy samples under wrk, and that share of "
        "the server's CPU time per request in the same window (us)"
    )
    header = f"{'':{width}}" + "".join(
        f"{_SHORT[n] + ' %':>14}{_SHORT[n] + ' us':>14}" for n in names
    )
    print(header)
    print("-" * len(header))
    for category in categories:
        cells = ""
        for name in names:
            value = columns[name].get(category, 0.0)
            share = value / columns[name]["total CPU per request (/proc)"]
            cells += f"{100 * share:>13.1f}%{value * 1e6:>14.1f}"
        print(f"{category:{width}}{cells}")
    for note in notes:
        print(f"  {note}")
    print("\nSQL on the event loop during the cached read, by caller (innermost app -> SDK frame)")
    for note in sql_notes:
        print(f"  {note}")
    print(flush=True)


def main() -> None:
    if wrk_binary() is None:
        print("wrk is not on PATH: skipping (Debian: apt-get install wrk)")
        return
    workdir = Path(tempfile.mkdtemp(prefix="rp-bench-wrk-"))
    redis_server = RedisServer().start()
    servers: list[Server] = []
    try:
        servers.append(_start_bare())
        servers.append(_start_peer())
        servers.append(_start_reference(RP_MEMORY, workdir, {}))
        servers.append(_start_reference(RP_REDIS, workdir, {"REDIS_URL": redis_server.url}))
        # The same app with RELAYPOINT_QUOTA_LEASE (docs/ratelimit.md), its own key prefix.
        leased = {
            "REDIS_URL": redis_server.url,
            "RELAYPOINT_QUOTA_LEASE": "0.05",
            "RELAYPOINT_KEY_PREFIX": "rpl:",
        }
        servers.append(_start_reference(RP_LEASED, workdir, leased))
        print(f"load before the run: {os.getloadavg()[0]:.2f} (1-minute average, 2 cores)")
        for server in servers:
            _measure(server, 1)  # warm-up: caches filled, code paths hot
        for _ in range(ROUNDS):
            for server in servers:
                server.results.append(_measure(server, SECONDS))
        _print_load_tables(servers)
        count_round_trips(redis_server.url, servers[3])
        count_round_trips(redis_server.url, servers[4])
        profile([servers[0], servers[2], servers[3]])
        print(f"load after the run: {os.getloadavg()[0]:.2f} (1-minute average, 2 cores)")
    finally:
        for server in servers:
            stop_server(server.process)
        redis_server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
