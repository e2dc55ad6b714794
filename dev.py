#!/usr/bin/env python3
"""One entry point for working on RelayPoint from a fresh machine with only Python 3.11+.

    python3 dev.py demo        run the reference app on embedded defaults (SQLite, memory backends)
    python3 dev.py test        run the test suite (service tests skip loudly without Redis/PostgreSQL)
    python3 dev.py lint | typecheck | docs | bench

The first call creates ``.venv`` and installs the project with every extra it needs; later calls
reinstall only when ``pyproject.toml`` changed. ``noxfile.py`` runs the same commands in nox's own
environments, so this file is the single place that says what each task runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".deps-stamp"

# What each task installs (extras of the `relaypoint` distribution) and runs, in order.
TASKS: dict[str, tuple[str, list[list[str]]]] = {
    "demo": ("all", [["python", "-m", "examples.app"]]),
    "test": ("all,dev", [["python", "-m", "pytest"]]),
    "lint": (
        "all,dev",
        [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["lint-imports"]],
    ),
    "typecheck": ("all,dev", [["mypy"]]),
    "docs": ("all,dev", [["mkdocs", "build", "--strict", "--site-dir", "site"]]),
    "bench": ("all,dev,bench", [["python", "-m", "benchmarks"]]),
}


def _venv_bin(name: str) -> str:
    folder = "Scripts" if os.name == "nt" else "bin"
    return str(VENV / folder / name)


def _ensure_environment(extras: str) -> None:
    if not VENV.exists():
        print(f"[dev] creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if digest in installed:
        return
    print(f"[dev] installing relaypoint[{extras}] (first run takes a minute)", flush=True)
    subprocess.run(
        [_venv_bin("python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        check=True,
    )
    subprocess.run(
        [_venv_bin("python"), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"],
        check=True,
        cwd=ROOT,
    )
    STAMP.write_text("\n".join([*installed, digest]))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(__doc__)
        return 2
    task, extra_args = argv[0], argv[1:]
    extras, commands = TASKS[task]
    _ensure_environment(extras)
    env = {
        **os.environ,
        "PATH": f"{Path(_venv_bin('python')).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for index, command in enumerate(commands):
        args = command + (extra_args if index == len(commands) - 1 else [])
        executable = _venv_bin(args[0])
        result = subprocess.run([executable, *args[1:]], cwd=ROOT, env=env, check=False)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
