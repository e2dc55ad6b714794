"""benchmarks._wrk: wrk's report is read right, and the request script reaches a real server
with each target's path and headers (checked by which answers the server gives)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator

import pytest
from benchmarks._servers import free_port, server_env, start_server, stop_server
from benchmarks._wrk import lua_script, parse_wrk, run_wrk, wrk_binary
from benchmarks.peer_stack import peer_token

REPORT = """Running 2s test @ http://127.0.0.1:18917
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.00ms    1.51ms  11.29ms   72.06%
    Req/Sec     3.20k     0.94k    4.82k    70.00%
  Latency Distribution
     50%    5.72ms
     75%    6.19ms
     90%  640.00us
     99%    1.05s
  5499 requests in 2.01s, 762.99KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 2749
Requests/sec:   2739.54
Transfer/sec:    760.37KB
"""


def test_report_is_parsed_with_units() -> None:
    result = parse_wrk(REPORT)
    assert result.requests == 5499
    assert result.seconds == pytest.approx(2.01)
    assert result.rps == pytest.approx(2739.54)
    assert result.p50 == pytest.approx(5.72e-3)
    assert result.p90 == pytest.approx(640e-6)
    assert result.p99 == pytest.approx(1.05)
    assert result.non_2xx == 2749
    assert result.socket_errors == 5
    assert not result.clean


def test_a_report_without_errors_is_clean() -> None:
    lines = [line for line in REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line]
    result = parse_wrk("\n".join(lines))
    assert (result.non_2xx, result.socket_errors, result.clean) == (0, 0, True)


def test_an_incomplete_report_is_refused() -> None:
    with pytest.raises(ValueError, match="incomplete wrk report"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_script_escapes_quotes_and_backslashes() -> None:
    script = lua_script([("/a", {"X-Quote": 'say "hi" \\ bye'})])
    assert r'["X-Quote"] = "say \"hi\" \\ bye"' in script


def test_script_needs_a_target() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        lua_script([])


@pytest.fixture(scope="module")
def peer() -> Iterator[tuple[str, str]]:
    if wrk_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is not installed (.ci/run installs the Debian package)")
        pytest.skip("wrk is not installed (Debian: apt-get install wrk)")
    secret = secrets.token_hex(32)
    port = free_port()
    process = start_server(
        [
            *(sys.executable, "-m", "uvicorn", "benchmarks.peer_stack:peer_app", "--factory"),
            *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        ],
        {**server_env(), "RP_PEER_SECRET": secret},
        port,
    )
    try:
        yield f"http://127.0.0.1:{port}", secret
    finally:
        stop_server(process)


def test_every_request_with_a_valid_token_is_answered(peer: tuple[str, str]) -> None:
    base, secret = peer
    targets = [
        (f"/api/v1/workflows/w{i}", {"Authorization": f"Bearer {peer_token(secret, f't{i}', 'u')}"})
        for i in range(4)
    ]
    result = run_wrk(base, targets, seconds=1, connections=4)
    assert result.requests > 0
    assert result.clean


def test_targets_alternate_so_half_the_requests_are_refused(peer: tuple[str, str]) -> None:
    base, secret = peer
    good = {"Authorization": f"Bearer {peer_token(secret, 't1', 'u')}"}
    targets = [("/api/v1/workflows/w1", good), ("/api/v1/workflows/w1", {"Authorization": "x"})]
    result = run_wrk(base, targets, seconds=1, connections=1)
    assert result.requests > 0
    # One connection, requests strictly alternating: every second one has no valid token.
    assert abs(result.non_2xx - result.requests / 2) <= 2
