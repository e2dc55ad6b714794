"""Start and stop the uvicorn servers the whole-app benchmarks measure (one process each)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

__all__ = ["ROOT", "free_port", "server_env", "start_server", "stop_server"]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Run ``args`` and wait until ``/health/live`` answers on ``port`` (any status below 500)."""
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {args} exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server {args} did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server, killing it if it does not exit within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def server_env() -> dict[str, str]:
    """This environment minus every variable that would configure the app under test."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RELAYPOINT_")
        and k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENVIRONMENT"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env
