"""Misconfiguration stops ``python -m examples.app`` before it serves anything, with a message
that says what to fix (and no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_app(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RELAYPOINT_")
        and k not in {"SECRET_KEY", "ENVIRONMENT", "DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [sys.executable, "-m", "examples.app"],
        cwd=ROOT,
        env={**clean, "RELAYPOINT_PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ENVIRONMENT": "production"}, "SECRET_KEY is not set"),
        (
            {
                "ENVIRONMENT": "production",
                "SECRET_KEY": "your-256-bit-secret-key-change-in-production",
            },
            "SECRET_KEY",
        ),
        (
            {
                "ENVIRONMENT": "production",
                "SECRET_KEY": "Qx7" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
                "RELAYPOINT_DEMO_SEED": "true",
            },
            "RELAYPOINT_DEMO_PASSWORD",
        ),
        ({"RELAYPOINT_DEMO_SEED": "maybe"}, "RELAYPOINT_DEMO_SEED='maybe' is not a boolean"),
        ({"RELAYPOINT_PORT": "http"}, "RELAYPOINT_PORT='http' is not a port number"),
    ],
)
def test_misconfiguration_fails_fast_with_a_clear_message(
    env: dict[str, str], expected: str
) -> None:
    result = run_app(**env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
