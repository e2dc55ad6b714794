"""Every Python sample in docs/ parses, and every RelayPoint name it imports exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _samples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for n, block in enumerate(_BLOCK.findall(page.read_text()), start=1):
            found.append((f"{page.relative_to(DOCS)}#{n}", block))
    return found


SAMPLES = _samples()


@pytest.mark.parametrize(("where", "source"), SAMPLES, ids=[w for w, _ in SAMPLES])
def test_sample_parses_and_its_relaypoint_imports_exist(where: str, source: str) -> None:
    tree = compile(source, where, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert isinstance(tree, ast.Module)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relaypoint"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("relaypoint"):
                    importlib.import_module(alias.name)
