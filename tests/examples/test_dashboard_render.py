"""The dashboard's server-side rendering escapes every branding value for where it lands."""

from __future__ import annotations

from examples.app.dashboard import (
    DEFAULT_PRIMARY,
    Branding,
    render_dashboard,
    render_logo_svg,
)


def hostile() -> Branding:
    return Branding.from_config(
        slug="acme",
        name="Acme",
        plan_tier="FREE",
        config={
            "company_name": '<script>alert(1)</script>"',
            "primary_color": "red; background: url(https://evil.example)",
            "secondary_color": "#FFC107",
            "support_email": 'x@acme.example"><img src=x onerror=alert(1)>',
            "logo_url": 'https://cdn.example/logo.png" onload="alert(1)',
        },
    )


def test_markup_in_branding_values_is_escaped() -> None:
    page = render_dashboard(hostile(), api_prefix="/api/v1")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page
    assert "<img src=x" not in page
    assert 'onload="alert(1)' not in page
    assert page.count("<script") == 3  # only the app's own external scripts (+ dashboard-live.js)
    assert 'src="/static/dashboard-ui.js"' in page
    assert 'src="/static/dashboard.js"' in page


def test_colours_that_are_not_hex_fall_back_and_the_page_links_the_tenant_theme() -> None:
    branding = hostile()
    assert branding.primary_color == DEFAULT_PRIMARY
    page = render_dashboard(branding, api_prefix="/api/v1")
    assert 'href="/api/v1/tenants/acme/theme.css"' in page
    assert "evil.example" not in page
    svg = render_logo_svg(branding)
    assert "<script" not in svg
    assert svg.startswith("<svg")
    assert 'fill="#000000"' in svg  # amber needs dark text
