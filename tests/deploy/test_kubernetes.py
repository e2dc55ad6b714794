"""kubernetes-validate --strict accepts every manifest in deploy/k8s."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.tools import require_tool

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


@pytest.mark.parametrize("manifest", sorted(p.name for p in K8S.glob("*.yaml")))
def test_manifest_validates_strictly(manifest: str) -> None:
    tool = require_tool("kubernetes-validate")
    result = subprocess.run(
        [str(tool), "--strict", str(K8S / manifest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed for resource" in result.stdout, result.stdout
