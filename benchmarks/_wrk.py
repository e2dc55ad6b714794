"""Drive wrk (an external load generator in its own process) and read its report.

The in-process httpx clients of ``bench_app`` share the interpreter and the two cores with nothing
but themselves, and become the bottleneck long before a server does; wrk is C, uses one thread and
leaves the server the rest of the machine. A Lua script sends each request to the next of several
(path, headers) targets in turn, so the load spreads over several users and tenants and no rate
limit refuses any of it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "lua_script", "parse_wrk", "run_wrk", "wrk_binary"]

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported; latencies in seconds."""

    requests: int
    seconds: float
    rps: float
    p50: float
    p90: float
    p99: float
    non_2xx: int
    socket_errors: int

    @property
    def clean(self) -> bool:
        """Every response was 2xx/3xx and no socket failed."""
        return self.non_2xx == 0 and self.socket_errors == 0


def _duration(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read the report ``wrk --latency`` prints.

    Raises:
        ValueError: the text is not a complete wrk report.
    """
    percentiles: dict[str, float] = {}
    for match in re.finditer(r"^\s+(50|90|99)(?:\.\d+)?%\s+(\S+)\s*$", output, re.MULTILINE):
        percentiles[match.group(1)] = _duration(match.group(2))
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if total is None or rps is None or set(percentiles) != {"50", "90", "99"}:
        raise ValueError(f"incomplete wrk report:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_duration(total.group(2)),
        rps=float(rps.group(1)),
        p50=percentiles["50"],
        p90=percentiles["90"],
        p99=percentiles["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def _lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def lua_script(targets: list[tuple[str, dict[str, str]]]) -> str:
    """A wrk script that sends request *n* to target *n mod len(targets)*."""
    if not targets:
        raise ValueError("wrk needs at least one target")
    rows = []
    for path, headers in targets:
        pairs = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        rows.append(f"  {{ path = {_lua_string(path)}, headers = {{ {pairs} }} }},")
    return "\n".join(
        [
            "local targets = {",
            *rows,
            "}",
            "local n = 0",
            "request = function()",
            "  n = n + 1",
            "  local t = targets[(n % #targets) + 1]",
            '  return wrk.format("GET", t.path, t.headers)',
            "end",
            "",
        ]
    )


def wrk_binary() -> str | None:
    """The wrk executable on PATH, or ``None``."""
    return shutil.which("wrk")


def run_wrk(
    base: str,
    targets: list[tuple[str, dict[str, str]]],
    *,
    seconds: float,
    connections: int = 16,
    threads: int = 1,
) -> WrkResult:
    """Run wrk against ``base`` for ``seconds`` and parse its report.

    Raises:
        RuntimeError: wrk is missing or failed.
    """
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk is not on PATH (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="rp-wrk-") as folder:
        script = Path(folder) / "targets.lua"
        script.write_text(lua_script(targets))
        completed = subprocess.run(
            [
                binary,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(seconds, 1):.0f}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr}")
    return parse_wrk(completed.stdout)
