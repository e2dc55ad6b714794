"""The real-time package imports no optional dependency and names its extra when one is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_realtime_loads_neither_socketio_nor_redis() -> None:
    out = _run(
        "import sys, relaypoint_core.realtime\n"
        "print(sorted(m for m in ('socketio', 'engineio', 'redis') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_a_missing_socketio_names_the_realtime_extra() -> None:
    out = _run(
        "import sys\n"
        "sys.modules['socketio'] = None\n"
        "from relaypoint_core.realtime import RealtimeServer, AccessTokenAuthenticator\n"
        "try:\n"
        "    RealtimeServer(None)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert "MissingExtraError" in out
    assert "pip install 'relaypoint[realtime]'" in out
