"""The branded dashboard in a real browser: Debian's headless Chromium, started by this test and
driven through Debian's chromedriver (selenium gets the driver's path; nothing is downloaded).

Per tenant and role: screenshots (light and dark) under ``tmp/artifacts/``, the computed colours
of the primary surfaces against the tenant's theme, and axe-core (npm, installed by ``.ci/run``
into ``.ci/node``) injected into the page with no serious or critical violation.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.examples.conftest import ARTIFACTS, DEMO_PASSWORD, ROOT, LiveApp, start_app, stop_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
COMPANIES = {"acme": "Acme Corporation", "globex": "Globex Corporation"}


def rgb(hex_color: str) -> str:
    """A ``#RRGGBB`` colour as ``getComputedStyle`` reports it."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def computed(driver: Any, selector: str, prop: str) -> str:
    """``getComputedStyle`` as the page sees it (``rgb(r, g, b)`` for opaque colours)."""
    value = driver.execute_script(
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
def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is missing: npm install --prefix .ci/node axe-core@4 (done by .ci/run)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
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
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        if previous_offline is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous_offline


def theme_of(app: LiveApp, slug: str) -> dict[str, Any]:
    with app.client() as client:
        response = client.get(f"/api/v1/tenants/{slug}/theme")
    assert response.status_code == 200, response.text
    theme: dict[str, Any] = response.json()
    return theme


def axe_violations(driver: Any, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now (WCAG 2.1 A/AA rules)."""
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'best-practice']}}).then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(result, list), result
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def shoot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    return shot


def settled_wait(driver: Any, timeout: float = 20) -> Any:
    """A wait that retries when the page re-renders an element between finding and reading it
    (the workflow table is redrawn after every action and every live event)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def open_dashboard(driver: Any, app: LiveApp, slug: str, theme: str = "light") -> None:
    # Forget the previous test's session on a page of the same origin that runs no script (the
    # dashboard itself might store a refreshed token after the clearing).
    driver.delete_all_cookies()
    driver.get(f"{app.base_url}/health/live")
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    driver.get_log("browser")  # drop that page's messages
    driver.get(f"{app.base_url}/dashboard/{slug}?theme={theme}")


def sign_in(driver: Any, email: str, password: str = DEMO_PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    settled_wait(driver).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true"
    )


def no_severe_console_errors(driver: Any) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    # A 429 or 403 the page handles shows up as a failed resource load; anything else is a bug.
    assert not [e for e in severe if " 429 " not in e["message"] and " 403 " not in e["message"]]


CASES = [
    ("acme", "manager", "light"),
    ("acme", "viewer", "dark"),
    ("acme", "tenant_admin", "dark"),
    ("globex", "tenant_admin", "light"),
    ("globex", "viewer", "dark"),
]


@pytest.mark.parametrize(("slug", "role", "mode"), CASES)
def test_dashboard_per_tenant_and_role(
    browser: Any, axe_source: str, embedded_app: LiveApp, slug: str, role: str, mode: str
) -> None:
    from selenium.webdriver.common.by import By

    name = f"dashboard-{slug}-{role}-{mode}"
    colors = theme_of(embedded_app, slug)["Colors"][mode]
    try:
        open_dashboard(browser, embedded_app, slug, mode)
        assert browser.title.startswith(COMPANIES[slug])
        settled_wait(browser).until(
            lambda d: computed(d, "#brand-bar", "backgroundColor") == rgb(colors["primary"])
        )
        assert computed(browser, "#brand-bar", "color") == rgb(colors["onPrimary"])
        assert computed(browser, "#login-button", "backgroundColor") == rgb(colors["primary"])
        assert computed(browser, "body", "backgroundColor") == rgb(colors["surface"])
        assert computed(browser, "#plan-badge", "backgroundColor") == rgb(
            colors["secondaryContainer"]
        )
        assert axe_violations(browser, axe_source) == []
        shoot(browser, f"signin-{slug}-{mode}")

        sign_in(browser, f"{role}@{slug}.example")
        assert f"{role}@{slug}.example" in browser.find_element(By.ID, "whoami").text
        assert browser.find_elements(By.CSS_SELECTOR, "#workflows tbody tr.workflow")
        usage = browser.find_element(By.ID, "usage").text
        assert "Workflows" in usage
        assert "Storage" in usage
        assert "107374182400" not in usage  # human-readable: "100 GB", not bytes
        assert "minute" in browser.find_element(By.ID, "rate-limit").text
        assert "Last response" in browser.find_element(By.ID, "rate-limit-headers").text
        assert computed(browser, ".card-elevated", "backgroundColor") == rgb(
            colors["surfaceContainerLow"]
        )
        can_write = role != "viewer"
        assert browser.find_element(By.ID, "create-workflow").is_displayed() is can_write
        assert bool(browser.find_elements(By.CSS_SELECTOR, "button.run")) is can_write
        assert browser.find_element(By.ID, "readonly-note").is_displayed() is not can_write
        if can_write:
            assert computed(browser, "#create-workflow", "backgroundColor") == rgb(
                colors["primary"]
            )
        assert axe_violations(browser, axe_source) == []
        no_severe_console_errors(browser)
        shoot(browser, name)
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / f"{name}-FAILED.png"))
        raise


def test_manager_creates_and_runs_a_workflow(browser: Any, embedded_app: LiveApp) -> None:
    from selenium.webdriver.common.by import By

    wait = settled_wait(browser)
    title = f"Quarterly review {uuid.uuid4().hex[:6]}"
    try:
        open_dashboard(browser, embedded_app, "acme")
        sign_in(browser, "manager@acme.example")
        browser.find_element(By.ID, "create-workflow").click()
        wait.until(lambda d: d.find_element(By.ID, "workflow-dialog").get_attribute("open"))
        browser.find_element(By.ID, "wf-name").send_keys(title)
        browser.find_element(By.ID, "wf-description").send_keys("Created in the browser test")
        shoot(browser, "dashboard-acme-manager-create-dialog")
        browser.find_element(By.ID, "dialog-save").click()
        row_xpath = (
            f"//tr[contains(@class,'workflow')][.//span[@class='wf-name' and text()='{title}']]"
        )
        wait.until(lambda d: d.find_elements(By.XPATH, row_xpath))
        assert "Created" in browser.find_element(By.ID, "snackbar").text
        browser.find_element(By.XPATH, row_xpath + "//button[contains(@class,'run')]").click()
        wait.until(lambda d: "Last run succeeded" in d.find_element(By.XPATH, row_xpath).text)
        row = browser.find_element(By.XPATH, row_xpath)
        assert row.find_element(By.CLASS_NAME, "wf-runs").text == "1"
        assert "succeeded" in browser.find_element(By.ID, "snackbar").text
        shoot(browser, "dashboard-acme-manager-after-run")
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "dashboard-acme-manager-run-FAILED.png"))
        raise


def test_viewer_cannot_create_or_run(browser: Any, embedded_app: LiveApp) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_dashboard(browser, embedded_app, "acme")
    # Keyboard only: the skip link comes first, then the app bar, then the form; Enter submits.
    browser.find_element(By.ID, "email").click()
    keys = ActionChains(browser).send_keys(
        "viewer@acme.example", Keys.TAB, DEMO_PASSWORD, Keys.ENTER
    )
    keys.perform()
    settled_wait(browser).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true"
    )
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    assert not browser.find_element(By.ID, "create-workflow").is_displayed()
    assert not browser.find_elements(By.CSS_SELECTOR, "button.run, button.edit, button.delete")
    # The hidden controls are a courtesy; the API refuses the viewer whatever the page shows.
    tokens = embedded_app.session("viewer@acme.example")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    with embedded_app.client(headers=headers) as client:
        listed = client.get("/api/v1/tenants/acme/workflows").json()["items"]
        run = client.post(f"/api/v1/tenants/acme/workflows/{listed[0]['id']}/execute")
        created = client.post("/api/v1/tenants/acme/workflows", json={"name": "nope"})
    assert run.status_code == 403
    assert created.status_code == 403


def test_sign_in_says_what_went_wrong(browser: Any, embedded_app: LiveApp) -> None:
    from selenium.webdriver.common.by import By

    open_dashboard(browser, embedded_app, "globex")
    browser.find_element(By.ID, "login-button").click()
    error = browser.find_element(By.ID, "login-error")
    assert "Enter your email" in error.text
    browser.find_element(By.ID, "email").send_keys("viewer@globex.example")
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    browser.find_element(By.ID, "login-button").click()
    settled_wait(browser).until(lambda d: "Enter your email" not in error.text)
    settled_wait(browser).until(lambda d: error.text.strip() != "")
    assert error.is_displayed()
    assert not browser.find_element(By.ID, "app-panel").is_displayed()
    shoot(browser, "signin-globex-error")


def test_throttled_tenant_admin_can_still_request_an_upgrade(
    browser: Any, axe_source: str, embedded_app: LiveApp
) -> None:
    """A FREE tenant whose admin used up the 60/minute budget sees when it resets and an upgrade
    call-to-action that works (the upgrade route is exempt from the budget it raises)."""
    from selenium.webdriver.common.by import By

    slug = f"initech{uuid.uuid4().hex[:6]}"
    admin = f"admin@{slug}.example"
    platform = embedded_app.session("super_admin@acme.example")
    with embedded_app.client(headers={"Authorization": f"Bearer {platform['access_token']}"}) as c:
        created = c.post(
            "/api/v1/tenants",
            json={
                "name": "Initech",
                "slug": slug,
                "plan_tier": "FREE",
                "admin_email": admin,
                "admin_name": "Initech admin",
                "admin_password": DEMO_PASSWORD,
            },
        )
    assert created.status_code == 201, created.text
    tokens = embedded_app.login(admin)
    with embedded_app.client(headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        for _ in range(70):
            if c.get("/api/v1/auth/me").status_code == 429:
                break
        assert c.get("/api/v1/auth/me").status_code == 429
    try:
        open_dashboard(browser, embedded_app, slug)
        sign_in_started = browser.find_element(By.ID, "email")
        sign_in_started.send_keys(admin)
        browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
        browser.find_element(By.ID, "login-button").click()
        banner = browser.find_element(By.ID, "throttle-banner")
        settled_wait(browser).until(lambda d: banner.is_displayed())
        assert browser.find_element(By.ID, "app-panel").is_displayed()  # not back to sign-in
        assert "resets in" in banner.text
        button = browser.find_element(By.ID, "upgrade-button")
        assert button.text == "Request STARTER upgrade"
        shoot(browser, f"dashboard-throttled-{slug[:7]}")
        button.click()
        result = browser.find_element(By.ID, "upgrade-result")
        settled_wait(browser).until(lambda d: result.is_displayed())
        assert "platform administrator" in result.text
        assert axe_violations(browser, axe_source) == []
        shoot(browser, "dashboard-throttled-upgrade-requested")
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "dashboard-throttled-FAILED.png"))
        raise
    with embedded_app.client(headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        assert c.get("/api/v1/billing/upgrade").status_code == 200
        assert c.get("/api/v1/auth/me").status_code == 429  # still throttled: only upgrade passes


def test_theme_is_public_cached_and_changes_with_branding(embedded_app: LiveApp) -> None:
    with embedded_app.client() as client:
        first = client.get("/api/v1/tenants/globex/theme")
        css = client.get("/api/v1/tenants/globex/theme.css")
        again = client.get(
            "/api/v1/tenants/globex/theme", headers={"If-None-Match": first.headers["ETag"]}
        )
        missing = client.get("/api/v1/tenants/no-such-tenant/theme")
    assert first.status_code == 200
    assert {"Colors", "Typography", "Spacing", "BorderRadius", "Shadows"} <= set(first.json())
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert css.headers["content-type"].startswith("text/css")
    assert "--md-sys-color-primary:" in css.text
    assert css.headers["ETag"] != first.headers["ETag"]
    assert again.status_code == 304
    assert again.content == b""
    assert missing.status_code == 404

    admin = embedded_app.session("tenant_admin@globex.example")
    auth = {"Authorization": f"Bearer {admin['access_token']}"}
    with embedded_app.client(headers=auth) as client:
        changed = client.put("/api/v1/tenants/globex/branding", json={"primary_color": "#FFFF00"})
        assert changed.status_code == 200, changed.text
        try:
            after = httpx.get(
                f"{embedded_app.base_url}/api/v1/tenants/globex/theme",
                headers={"If-None-Match": first.headers["ETag"]},
            )
        finally:
            client.put("/api/v1/tenants/globex/branding", json={"primary_color": "#2E7D32"})
    assert after.status_code == 200
    assert after.headers["ETag"] != first.headers["ETag"]
    assert after.json()["brand"]["primaryColor"] == "#FFFF00"


def create_tenant(app: LiveApp, slug: str) -> dict[str, str]:
    """A fresh FREE tenant (made by the platform admin); returns its admin's tokens."""
    platform = app.session("super_admin@acme.example")
    with app.client(headers={"Authorization": f"Bearer {platform['access_token']}"}) as client:
        created = client.post(
            "/api/v1/tenants",
            json={
                "name": slug.title(),
                "slug": slug,
                "plan_tier": "FREE",
                "admin_email": f"admin@{slug}.example",
                "admin_name": f"{slug} admin",
                "admin_password": DEMO_PASSWORD,
            },
        )
    assert created.status_code == 201, created.text
    return app.login(f"admin@{slug}.example")


def override_quota(app: LiveApp, slug: str, resource: str, limit: int) -> None:
    platform = app.session("super_admin@acme.example")
    with app.client(headers={"Authorization": f"Bearer {platform['access_token']}"}) as client:
        response = client.put(
            f"/api/v1/platform/tenants/{slug}/quotas/{resource}", json={"limit": limit}
        )
    assert response.status_code == 200, response.text


def test_usage_bars_warn_past_80_percent_and_turn_red_past_100(
    browser: Any, axe_source: str, embedded_app: LiveApp
) -> None:
    from selenium.webdriver.common.by import By

    slug = f"umbrella{uuid.uuid4().hex[:6]}"
    tokens = create_tenant(embedded_app, slug)
    with embedded_app.client(headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        for name in ("Intake", "Review", "Archive", "Notify", "Bill"):
            assert (
                c.post(f"/api/v1/tenants/{slug}/workflows", json={"name": name}).status_code == 201
            )
    override_quota(embedded_app, slug, "workflows", 6)  # 5 of 6: 83 %
    override_quota(embedded_app, slug, "users", 0)  # 1 of 0: over the limit
    try:
        open_dashboard(browser, embedded_app, slug)
        sign_in(browser, f"admin@{slug}.example")
        meters = {
            m.get_attribute("data-resource"): m
            for m in browser.find_elements(By.CSS_SELECTOR, "#usage li.meter")
        }
        assert meters["workflows"].get_attribute("data-level") == "warning"
        assert "83% of the plan limit used" in meters["workflows"].text
        assert meters["users"].get_attribute("data-level") == "error"
        assert "Over the plan limit by 1" in meters["users"].text
        assert meters["storage_bytes"].get_attribute("data-level") == "ok"
        assert "0 B of 1 GB" in meters["storage_bytes"].text
        colors = theme_of(embedded_app, slug)["Colors"]["light"]
        fill = "#usage li[data-resource='{}'] .bar > span"
        assert computed(browser, fill.format("workflows"), "backgroundColor") == rgb(
            colors["warning"]
        )
        assert computed(browser, fill.format("users"), "backgroundColor") == rgb(colors["error"])
        rate = browser.find_element(By.ID, "rate-limit").text
        assert re.search(r"resets in \d+ (s|min|h|d)", rate), rate
        assert axe_violations(browser, axe_source) == []
        shoot(browser, "dashboard-usage-warning-and-over")

        browser.set_window_size(390, 844)  # a phone: nothing may overflow sideways
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
        )
        assert overflow <= 0
        shoot(browser, "dashboard-mobile")
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "dashboard-usage-FAILED.png"))
        raise
    finally:
        browser.set_window_size(1280, 1000)


@pytest.fixture(scope="module")
def strict_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app with the default anonymous tier (FREE: 60/minute per address), so sign-ins from
    this machine can be throttled."""
    app = start_app(
        "embedded", tmp_path_factory.mktemp("app-strict"), {"RELAYPOINT_ANONYMOUS_TIER": "FREE"}
    )
    try:
        yield app
    finally:
        stop_app(app)


def test_a_throttled_sign_in_says_when_to_retry(browser: Any, strict_app: LiveApp) -> None:
    from selenium.webdriver.common.by import By

    open_dashboard(browser, strict_app, "acme")
    settled_wait(browser).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    with strict_app.client() as client:  # spend this address's anonymous budget
        for _ in range(80):
            if client.get("/api/v1/tenants/acme/theme").status_code == 429:
                break
    browser.find_element(By.ID, "email").send_keys("viewer@acme.example")
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.ID, "login-button").click()
    error = browser.find_element(By.ID, "login-error")
    settled_wait(browser).until(lambda d: error.is_displayed())
    assert re.search(r"Too many sign-in attempts\. Try again in \d+ (s|min)", error.text), (
        error.text
    )
    assert not browser.find_element(By.ID, "login-button").is_enabled()  # until the reset
    assert not browser.find_element(By.ID, "app-panel").is_displayed()
    shoot(browser, "signin-acme-throttled")


def test_a_run_by_someone_else_shows_live_without_a_reload(
    browser: Any, embedded_app: LiveApp
) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # A session of its own: cached sessions may have been signed out by other tests.
    manager = embedded_app.login("manager@acme.example")["access_token"]
    auth = {"Authorization": f"Bearer {manager}"}
    title = f"Live {uuid.uuid4().hex[:6]}"
    with embedded_app.client() as client:
        created = client.post(
            "/api/v1/tenants/acme/workflows",
            headers=auth,
            json={"name": title, "steps": [{"name": "s", "action": "uppercase", "input": "x"}]},
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
    try:
        open_dashboard(browser, embedded_app, "acme")
        sign_in(browser, "viewer@acme.example")
        # The table is re-rendered when a live event arrives: an element read may go stale.
        wait = WebDriverWait(
            browser,
            20,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )
        wait.until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "true"
        )
        row_xpath = f"//tr[@data-id='{workflow_id}']"
        wait.until(
            lambda d: d.find_element(By.XPATH, row_xpath + "//td[@class='wf-runs']").text == "0"
        )
        with embedded_app.client() as client:
            run = client.post(f"/api/v1/tenants/acme/workflows/{workflow_id}/execute", headers=auth)
            assert run.status_code == 200, run.text
        wait.until(
            lambda d: d.find_element(By.XPATH, row_xpath + "//td[@class='wf-runs']").text == "1"
        )
        no_severe_console_errors(browser)
        shoot(browser, "dashboard-acme-viewer-live-run")
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "dashboard-acme-viewer-live-FAILED.png"))
        raise
