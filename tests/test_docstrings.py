"""The API reference is rendered by mkdocstrings in Google style: Sphinx roles would show raw."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|ref):`")


def test_no_docstring_in_src_uses_a_sphinx_role() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SPHINX_ROLE.search(line)
    ]
    assert offenders == [], f"Sphinx roles render raw in the API reference: {offenders}"


def test_the_pattern_recognises_a_role() -> None:
    assert SPHINX_ROLE.search("see :class:`KeyRing` for details")
    assert not SPHINX_ROLE.search("see `KeyRing` for details")
