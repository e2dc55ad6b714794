"""The branded dashboard in a real browser: Debian's headless Chromium, started by this test and
driven through Debian's chromedriver (selenium gets the driver's path; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.examples.conftest import ARTIFACTS, DEMO_PASSWORD, LiveApp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TENANTS = {
    # slug: (company name, primary colour as the browser computes it, secondary colour)
    "acme": ("Acme Corporation", "rgb(255, 87, 34)", "rgb(0, 188, 212)"),
    "globex": ("Globex Corporation", "rgb(46, 125, 50)", "rgb(255, 193, 7)"),
}


def computed(driver: object, selector: str, prop: str) -> str:
    """``getComputedStyle`` as the page sees it (``rgb(r, g, b)`` for opaque colours)."""
    value = driver.execute_script(  # type: ignore[attr-defined]
        "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];",
        selector,
        prop,
    )
    return str(value)


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _browser_missing()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser test: {reason}", pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Never let selenium fetch a driver or browser of its own: Debian's packages or nothing.
    previous_offline = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="rp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        if previous_offline is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous_offline


@pytest.mark.parametrize("slug", sorted(TENANTS))
def test_dashboard_login_shows_the_tenant_branding(
    browser: object, embedded_app: LiveApp, slug: str
) -> None:
    live_app = embedded_app  # the page is the same on every backend; one browser run is enough
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _check_dashboard(browser, live_app, slug)
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / f"dashboard-{slug}-FAILED.png"))
        raise


def _check_dashboard(browser: object, live_app: LiveApp, slug: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    company, primary, secondary = TENANTS[slug]
    browser.delete_all_cookies()
    browser.get(f"{live_app.base_url}/dashboard/{slug}")
    wait = WebDriverWait(browser, 20)

    assert browser.title.startswith(company)
    assert browser.find_element(By.ID, "company-name").text == company
    wait.until(lambda d: computed(d, "#brand-bar", "backgroundColor") == primary)
    assert computed(browser, "#plan-badge", "backgroundColor") == secondary

    browser.find_element(By.ID, "email").send_keys(f"viewer@{slug}.example")
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.ID, "login-button").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

    assert not browser.find_element(By.ID, "app-panel").get_attribute("hidden")
    assert f"viewer@{slug}.example" in browser.find_element(By.ID, "whoami").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#workflows tbody tr")
    assert rows, "the workflow list is empty"
    usage = browser.find_element(By.ID, "usage").text
    assert "workflows" in usage
    assert "users" in usage
    limits = browser.find_element(By.ID, "rate-limit").text
    assert "minute" in limits
    assert "Last response" in browser.find_element(By.ID, "rate-limit-headers").text
    assert computed(browser, "#app-panel .card h2", "color") == primary
    support = browser.find_element(By.ID, "support-email")
    assert support.get_attribute("href").startswith("mailto:")
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]

    shot = Path(ARTIFACTS) / f"dashboard-{slug}.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
