"""The distribution's promises: light bare install, typed packages, explicit public APIs, and an
error naming the extra to install when an optional dependency is missing."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("relaypoint_core", "relaypoint_tenancy", "relaypoint_ratelimit", "relaypoint_cache")
HEAVY = ("redis", "sqlalchemy", "fastapi", "starlette", "asyncpg", "aiosqlite", "alembic")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_bare_dependencies_name_no_redis_sqlalchemy_or_web_framework() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bare = " ".join(project["dependencies"]).lower()
    for heavy in HEAVY:
        assert heavy not in bare
    extras = project["optional-dependencies"]
    assert {"redis", "postgres", "sqlite", "fastapi", "all", "dev"} <= set(extras)


def _loaded_after_importing(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_importing_every_package_loads_no_optional_dependency() -> None:
    modules = [
        *PACKAGES,
        "relaypoint_core.auth",
        "relaypoint_core.rbac",
        "relaypoint_core.audit",
        "relaypoint_core.monitoring",
        "relaypoint_ratelimit.asgi",
    ]
    assert _loaded_after_importing(modules, HEAVY) == []


def test_tenancy_middleware_needs_sqlalchemy_but_no_web_framework_or_redis() -> None:
    # Tenancy is SQL-backed by design (ARCHITECTURE.md: tenancy depends on core + sqlalchemy),
    # so its resolver's SQL lookup comes along; a web framework or Redis must not.
    loaded = _loaded_after_importing(["relaypoint_tenancy.asgi"], HEAVY)
    assert not {"fastapi", "starlette", "redis"} & set(loaded)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_is_typed_with_an_explicit_public_api(package: str) -> None:
    module = importlib.import_module(package)
    assert (ROOT / "src" / package / "py.typed").is_file()
    assert (ROOT / "src" / package / "errors.py").is_file()
    assert (ROOT / "src" / package / "testing.py").is_file()
    exported = module.__all__
    assert exported, f"{package}.__all__ is empty"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize(
    "snippet",
    [
        "from relaypoint_ratelimit.backends import create_backend\n"
        "create_backend('redis://127.0.0.1:6379/0')",
        "from relaypoint_cache import Cache\n"
        "import asyncio\n"
        "asyncio.run(Cache('redis://127.0.0.1:6379/0').get('k', tenant_id='t'))",
        "from relaypoint_core.auth.stores import create_token_store\n"
        "create_token_store('redis://127.0.0.1:6379/0')",
    ],
    ids=["ratelimit", "cache", "auth"],
)
def test_a_missing_extra_is_named_in_the_error(snippet: str) -> None:
    # Make `import redis` fail as it would on a bare install, then ask for a Redis backend.
    code = (
        "import sys\n"
        "for name in ('redis', 'redis.asyncio', 'redis.asyncio.cluster'): sys.modules[name] = None\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in snippet.splitlines())
        + "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert "MissingExtraError" in done.stdout, done.stdout
    assert "pip install 'relaypoint[redis]'" in done.stdout


def test_nox_offers_every_session_the_brief_names() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nox", "--list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = {line.split()[1] for line in done.stdout.splitlines() if line[:2] in ("* ", "- ")}
    assert {"tests", "lint", "typecheck", "docs", "bench", "demo"} <= listed
