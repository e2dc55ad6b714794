"""The runtime dependency closure of ``relaypoint[all]``, read from installed package metadata.

``python -m tests.support.dependencies > deploy/constraints.txt`` rewrites the image's pinned
constraints from the current environment (run it in a fresh ``.venv`` after changing
``pyproject.toml``); ``tests/deploy/test_image.py`` checks the file still covers the closure.
"""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

DISTRIBUTION = "relaypoint"
EXTRAS = frozenset({"all"})


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(
    distribution: str = DISTRIBUTION, extras: frozenset[str] = EXTRAS
) -> dict[str, str]:
    """Every distribution ``distribution[extras]`` needs at run time -> its installed version."""
    found: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(distribution, extras)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, wanted = pending.pop()
        if (canonical(name), wanted) in seen:
            continue
        seen.add((canonical(name), wanted))
        dist = metadata.distribution(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            key = canonical(requirement.name)
            if key == canonical(distribution):  # self-referencing extras: relaypoint[redis,...]
                pending.append((requirement.name, frozenset(requirement.extras)))
                continue
            found[key] = metadata.version(requirement.name)
            pending.append((requirement.name, frozenset(requirement.extras)))
    return dict(sorted(found.items()))


if __name__ == "__main__":
    print("# Pinned runtime dependencies of relaypoint[all] for the image (deploy/Dockerfile).")
    print("# Regenerate: python -m tests.support.dependencies > deploy/constraints.txt")
    for name, version in runtime_closure().items():
        print(f"{name}=={version}")
