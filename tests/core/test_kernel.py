"""Core's kernel stands apart from auth, RBAC, monitoring and real-time: the import contract covers
every kernel module, and importing the package loads none of them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import relaypoint_core

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = {"fastapi", "fastapi_problems"}  # framework edges, allowed to wire auth in


def _kernel_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"].startswith("core's kernel")]
    return dict(contract)


def test_the_contract_lists_every_kernel_module() -> None:
    package = Path(relaypoint_core.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__"} - ADAPTERS
    contract = _kernel_contract()
    assert set(contract["source_modules"]) == {f"relaypoint_core.{m}" for m in modules}
    assert set(contract["forbidden_modules"]) == {
        f"relaypoint_core.{p}" for p in ("auth", "rbac", "monitoring", "realtime")
    }


def test_importing_core_loads_no_auth_rbac_monitoring_or_realtime() -> None:
    code = (
        "import sys, relaypoint_core, relaypoint_core.testing, relaypoint_core.environment\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (\n"
        "    ['relaypoint_core', 'auth'], ['relaypoint_core', 'rbac'],\n"
        "    ['relaypoint_core', 'monitoring'], ['relaypoint_core', 'realtime']))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)
