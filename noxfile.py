"""nox sessions; each runs the same commands as ``python3 dev.py <task>`` (see dev.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

# nox loads this file by path; dev.py beside it holds the one table of what each task runs.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev import TASKS

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.default_venv_backend = "venv"


def _run_task(session: nox.Session, task: str) -> None:
    extras, commands = TASKS[task]
    session.install("-e", f".[{extras}]")
    for index, command in enumerate(commands):
        extra_args = session.posargs if index == len(commands) - 1 else []
        session.run(*command, *extra_args)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Run pytest (service tests need Redis and PostgreSQL on loopback)."""
    _run_task(session, "test")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _run_task(session, "lint")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/."""
    _run_task(session, "typecheck")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """mkdocs build --strict."""
    _run_task(session, "docs")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks against peer libraries, printed as ratio tables."""
    _run_task(session, "bench")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """The reference app on embedded defaults."""
    _run_task(session, "demo")
