"""One problem mapping for every RelayPointError of every package; type URLs that resolve."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import markdown
import pytest

import relaypoint_cache
import relaypoint_core
import relaypoint_ratelimit
import relaypoint_tenancy
from relaypoint_core.errors import RelayPointError
from relaypoint_core.http_errors import ERRORS_DOCS_URL, problem_for, safe_text
from relaypoint_ratelimit.headers import PROBLEM_TYPE, UNAVAILABLE_TYPE
from relaypoint_tenancy import TenantNotFoundError

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCS_HOST = "https://docs.relaypoint.ai/"
PACKAGES = (relaypoint_core, relaypoint_tenancy, relaypoint_ratelimit, relaypoint_cache)


def _import_everything() -> None:
    for package in PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations." in module.name or module.name.endswith(("__main__", "sentry")):
                continue
            importlib.import_module(module.name)


def _subclasses(klass: type[RelayPointError]) -> set[type[RelayPointError]]:
    found = set()
    for sub in klass.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


_import_everything()
ERRORS = sorted(_subclasses(RelayPointError) | {RelayPointError}, key=lambda k: k.__qualname__)


def _anchors(url: str) -> tuple[Path, str]:
    assert url.startswith(DOCS_HOST), url
    page, _, anchor = url[len(DOCS_HOST) :].partition("#")
    path = DOCS / (page.rstrip("/") + ".md") if page.strip("/") else DOCS / "index.md"
    return path, anchor


def heading_ids(page: Path) -> set[str]:
    """The heading anchors mkdocs gives ``page`` (python-markdown's toc, as the build uses)."""
    md = markdown.Markdown(extensions=["toc", "tables", "admonition", "pymdownx.superfences"])
    md.convert(page.read_text())

    def walk(tokens: list[dict[str, object]]) -> set[str]:
        ids: set[str] = set()
        for token in tokens:
            ids.add(str(token["id"]))
            ids |= walk(token["children"])  # type: ignore[arg-type]
        return ids

    return walk(md.toc_tokens)  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", ERRORS, ids=lambda k: k.__qualname__)
def test_every_error_class_maps_to_a_status_and_an_existing_docs_anchor(
    error: type[RelayPointError],
) -> None:
    assert 400 <= error.http_status < 600
    url = ERRORS_DOCS_URL + "#" + error.problem_slug
    page, anchor = _anchors(url)
    assert anchor in heading_ids(page), f"{url} has no heading on {page.name}"


IANA_TYPES = "https://iana.org/assignments/http-problem-types#"


@pytest.mark.parametrize("url", [PROBLEM_TYPE, UNAVAILABLE_TYPE], ids=["429", "503"])
def test_rate_limit_problem_types_resolve(url: str) -> None:
    # The limiter's 429/503 use the problem types the IETF rate-limit draft registers with IANA;
    # every other type the SDK emits is a heading on our own docs.
    if url.startswith(IANA_TYPES):
        assert url[len(IANA_TYPES) :] in ("quota-exceeded", "temporary-reduced-capacity")
        return
    page, anchor = _anchors(url)
    assert anchor in heading_ids(page)


def test_http_problem_slugs_resolve() -> None:
    ids = heading_ids(DOCS / "errors.md")
    for slug in ("invalid-input", "not-found", "method-not-allowed", "http-error"):
        assert slug in ids


def test_sibling_errors_get_their_own_status_without_core_importing_them() -> None:
    problem = problem_for(TenantNotFoundError("nope"))
    assert problem.status == 404
    assert problem.body["type"] == ERRORS_DOCS_URL + "#tenant-not-found"
    assert problem.body["detail"] == "tenant 'nope' does not exist"


def test_hostile_input_is_never_echoed() -> None:
    problem = problem_for(TenantNotFoundError("<script>alert(1)</script>\x00"))
    assert "<" not in problem.body["detail"]
    assert ">" not in problem.body["detail"]
    assert "\x00" not in problem.body["detail"]
    assert len(safe_text("x" * 10_000)) == 300


def test_configuration_and_unknown_errors_hide_their_message() -> None:
    secret = relaypoint_core.ConfigurationError("redis://user:hunter2@10.0.0.1 refused")
    assert "hunter2" not in str(problem_for(secret).body)
    assert problem_for(secret).status == 500
    assert "boom" not in str(problem_for(RuntimeError("boom")).body)
    assert re.fullmatch(r".*#internal-error", problem_for(RuntimeError()).body["type"])
