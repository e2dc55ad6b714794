"""benchmarks._wrk: wrk's report is read right, and the request script reaches a real server
(uvicorn serving ``header_app`` below) with each target's path and headers, checked by which
answers the server gives."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from benchmarks._servers import free_port, server_env, start_server, stop_server
from benchmarks._wrk import lua_script, parse_wrk, run_wrk, wrk_binary

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


TOKEN_HEADER = "X-Bench-Token"


def header_app() -> Any:
    """``uvicorn --factory`` target: 200 when the request carries the expected token, else 403."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    expected = os.environ["RP_TEST_TOKEN"]

    async def item(request: Request) -> PlainTextResponse:
        if request.headers.get(TOKEN_HEADER) != expected:
            return PlainTextResponse("wrong token", status_code=403)
        return PlainTextResponse(request.path_params["name"])

    async def live(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/health/live", live), Route("/items/{name}", item)])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    if wrk_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is not installed (.ci/run installs the Debian package)")
        pytest.skip("wrk is not installed (Debian: apt-get install wrk)")
    token = 'quote " and backslash \\ in a header'
    port = free_port()
    process = start_server(
        [
            *(sys.executable, "-m", "uvicorn", f"{__name__}:header_app", "--factory"),
            *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        ],
        {**server_env(), "RP_TEST_TOKEN": token},
        port,
    )
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop_server(process)


def test_every_request_with_the_right_header_is_answered(server: tuple[str, str]) -> None:
    base, token = server
    targets = [(f"/items/i{i}", {TOKEN_HEADER: token}) for i in range(4)]
    result = run_wrk(base, targets, seconds=1, connections=4)
    assert result.requests > 0
    assert result.clean


def test_targets_alternate_so_half_the_requests_are_refused(server: tuple[str, str]) -> None:
    base, token = server
    targets = [("/items/a", {TOKEN_HEADER: token}), ("/items/b", {TOKEN_HEADER: "wrong"})]
    result = run_wrk(base, targets, seconds=1, connections=1)
    assert result.requests > 0
    # One connection, requests strictly alternating: every second one carries the wrong token.
    assert abs(result.non_2xx - result.requests / 2) <= 2
