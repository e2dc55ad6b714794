"""Swagger UI and ReDoc from local assets: no external URL on the pages, a CSP that names no CDN
and allows their inline script by hash, and both UIs render in a real (offline) browser."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.examples.conftest import ARTIFACTS, LiveApp
from tests.examples.test_dashboard_browser import browser  # noqa: F401  (the Chromium fixture)

PAGES = ("/docs", "/redoc")


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_use_only_local_assets(embedded_app: LiveApp, path: str) -> None:
    with embedded_app.client() as client:
        page = client.get(path)
        assert page.status_code == 200
        assert "http://" not in page.text
        assert "https://" not in page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets
        for asset in assets:
            assert asset.startswith("/docs-assets/"), asset
            assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize("path", PAGES)
def test_the_policy_allows_exactly_the_pages_inline_scripts(
    embedded_app: LiveApp, path: str
) -> None:
    with embedded_app.client() as client:
        page = client.get(path)
    policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    scripts = directives["script-src"].split()
    assert "'unsafe-inline'" not in scripts
    assert not [source for source in scripts if source.startswith(("http", "*"))]
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    expected = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    }
    assert {s for s in scripts if s.startswith("'sha256-")} == expected


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .info .title"), ("/redoc", ".api-info h1")],
)
def test_the_docs_render_in_a_browser(
    browser: object,  # noqa: F811
    embedded_app: LiveApp,
    path: str,
    rendered: str,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    browser.get_log("browser")  # start from an empty console
    browser.get(f"{embedded_app.base_url}{path}")
    try:
        title = WebDriverWait(browser, 20).until(
            lambda d: d.find_element(By.CSS_SELECTOR, rendered)
        )
        assert "RelayPoint" in title.text
        # ReDoc's sidebar shows a remote "powered by" logo; the policy blocking it is the point.
        severe = [
            e
            for e in browser.get_log("browser")
            if e["level"] == "SEVERE" and "https://cdn.redoc.ly/redoc/logo" not in e["message"]
        ]
        assert not severe, severe
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / f"docs{path.replace('/', '-')}-FAILED.png"))
        raise
