"""The documentation stays complete: every environment variable and every docs page is listed."""

from __future__ import annotations

from pathlib import Path

import yaml
from examples.app.settings import APP_ENVIRONMENT_VARIABLES

from relaypoint_core.config import RelayPointSettings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_configuration_reference_names_every_environment_variable() -> None:
    text = (DOCS / "configuration.md").read_text()
    names = set(RelayPointSettings.model_fields) | set(APP_ENVIRONMENT_VARIABLES)
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"docs/configuration.md does not document {missing}"


def _nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def test_every_docs_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = _nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(listed) == pages


def test_readme_names_the_demo_users_and_password() -> None:
    from examples.app.seed import DEMO_TENANTS, demo_email
    from examples.app.settings import DEMO_PASSWORD

    readme = (ROOT / "README.md").read_text()
    assert f"`{DEMO_PASSWORD}`" in readme
    for tenant in DEMO_TENANTS:
        for role in tenant.roles:
            assert f"`{demo_email(role, tenant.slug)}`" in readme
