"""The branded dashboard: one server-rendered page per tenant plus its logo; its colours, type,
shape and elevation come from the tenant's M3 theme (``/api/v1/tenants/<slug>/theme.css``).

Branding values are validated by the tenancy package when stored; here they are escaped again
for the context they land in (HTML text/attributes, a CSS colour, an SVG text node), so a value
that slipped past validation still cannot inject markup or style.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

__all__ = [
    "DEFAULT_PRIMARY",
    "DEFAULT_SECONDARY",
    "Branding",
    "render_dashboard",
    "render_logo_svg",
]

DEFAULT_PRIMARY = "#3F51B5"
DEFAULT_SECONDARY = "#009688"
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_TEMPLATE = Template((Path(__file__).parent / "templates" / "dashboard.html").read_text())


@dataclass(frozen=True)
class Branding:
    slug: str
    company_name: str
    plan_tier: str
    primary_color: str = DEFAULT_PRIMARY
    secondary_color: str = DEFAULT_SECONDARY
    logo_url: str | None = None
    favicon_url: str | None = None
    support_email: str = "support@relaypoint.ai"

    @classmethod
    def from_config(
        cls, *, slug: str, name: str, plan_tier: str, config: dict[str, Any]
    ) -> Branding:
        def color(key: str, default: str) -> str:
            value = config.get(key)
            return value if isinstance(value, str) and _HEX.match(value) else default

        def text(key: str) -> str | None:
            value = config.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            slug=slug,
            company_name=text("company_name") or name,
            plan_tier=plan_tier,
            primary_color=color("primary_color", DEFAULT_PRIMARY),
            secondary_color=color("secondary_color", DEFAULT_SECONDARY),
            logo_url=text("logo_url"),
            favicon_url=text("favicon_url"),
            support_email=text("support_email") or "support@relaypoint.ai",
        )


def _on_color(hex_color: str) -> str:
    """Black or white, whichever reads better on ``hex_color`` (WCAG relative luminance)."""
    digits = hex_color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if luminance > 0.4 else "#FFFFFF"


def render_logo_svg(branding: Branding) -> str:
    """A monogram in the tenant's colours, used when the tenant has no logo URL."""
    initials = "".join(word[0] for word in branding.company_name.split()[:2] if word).upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="80" viewBox="0 0 80 80">'
        f'<rect width="80" height="80" rx="16" fill="{branding.secondary_color}"/>'
        '<text x="40" y="52" font-family="sans-serif" font-size="32" font-weight="700" '
        f'text-anchor="middle" fill="{_on_color(branding.secondary_color)}">'
        f"{html.escape(initials or '?')}</text></svg>"
    )


def render_dashboard(branding: Branding, *, api_prefix: str) -> str:
    base = f"/dashboard/{branding.slug}"
    logo = branding.logo_url or f"{base}/logo.svg"
    return _TEMPLATE.substitute(
        company_name=html.escape(branding.company_name),
        plan_tier=html.escape(branding.plan_tier),
        tenant_slug=html.escape(branding.slug),
        api_prefix=html.escape(api_prefix),
        theme_url=html.escape(f"{api_prefix}/tenants/{branding.slug}/theme.css"),
        logo_url=html.escape(logo),
        favicon_url=html.escape(branding.favicon_url or logo),
        support_email=html.escape(branding.support_email),
    )
