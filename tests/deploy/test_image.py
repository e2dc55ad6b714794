"""The image and the distributions: pinned constraints covering every runtime dependency, a
hadolint-clean Dockerfile, a LICENSE named in the metadata, and an sdist without tests."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.dependencies import canonical, runtime_closure
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "deploy/constraints.txt"


def pinned() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line}"
            pins[canonical(name)] = version
    return pins


def test_constraints_pin_every_runtime_dependency() -> None:
    missing = sorted(set(runtime_closure()) - set(pinned()))
    assert not missing, f"deploy/constraints.txt lacks {missing}: regenerate it"


def test_pinned_versions_satisfy_the_declared_requirements() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("redis", "postgres", "sqlite", "fastapi", "sentry", "docs-ui"):
        declared += project["optional-dependencies"][extra]
    pins = pinned()
    for line in declared:
        requirement = Requirement(line)
        version = pins[canonical(requirement.name)]
        assert requirement.specifier.contains(Version(version)), f"{requirement} vs {version}"


def test_the_dockerfile_installs_with_the_constraints() -> None:
    text = (ROOT / "deploy/Dockerfile").read_text()
    assert "COPY deploy/constraints.txt" in text
    assert '--constraint deploy/constraints.txt ".[all]"' in text


def test_hadolint_accepts_the_dockerfile() -> None:
    tool = require_tool("hadolint")
    result = subprocess.run(
        [str(tool), "--no-color", str(ROOT / "deploy/Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def build(target: str, directory: Path) -> Path:
    from hatchling.builders.sdist import SdistBuilder
    from hatchling.builders.wheel import WheelBuilder

    builder = (SdistBuilder if target == "sdist" else WheelBuilder)(str(ROOT))
    (artifact,) = list(builder.build(directory=str(directory), versions=["standard"]))
    return Path(artifact)


def test_the_sdist_ships_the_library_and_its_license_but_no_tests(tmp_path: Path) -> None:
    with tarfile.open(build("sdist", tmp_path)) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        pkg_info = archive.extractfile(
            next(n for n in archive.getnames() if n.endswith("/PKG-INFO"))
        )
        assert pkg_info is not None
        metadata = pkg_info.read().decode()
    assert {"LICENSE", "pyproject.toml", "README.md", "src/relaypoint_core/__init__.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/"))]
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata


def test_the_wheel_carries_the_license(tmp_path: Path) -> None:
    with zipfile.ZipFile(build("wheel", tmp_path)) as archive:
        names = archive.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Apache License" in (ROOT / "LICENSE").read_text()
