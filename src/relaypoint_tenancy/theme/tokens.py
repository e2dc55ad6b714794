"""The seed's design tokens (``Colors``, ``Typography``, ``Spacing``, ``BorderRadius``,
``Shadows``) for one tenant, as JSON for React Native clients and as CSS custom properties.

Everything but the colours is the same for every tenant (M3's type scale, a 4-point spacing
grid, M3 shape corners and elevation levels); colours come from the tenant's branding.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relaypoint_tenancy.branding import BrandingConfig, validate_branding
from relaypoint_tenancy.theme.scheme import ColorScheme, Palettes, build_schemes

__all__ = [
    "BORDER_RADIUS",
    "DEFAULT_PRIMARY",
    "SHADOWS",
    "SPACING",
    "TYPOGRAPHY",
    "Theme",
    "build_theme",
]

DEFAULT_PRIMARY = "#3F51B5"
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

# M3 type scale: (size px, line height px, weight, letter spacing px).
_TYPE_SCALE: dict[str, tuple[int, int, int, float]] = {
    "displayLarge": (57, 64, 400, -0.25),
    "displayMedium": (45, 52, 400, 0.0),
    "displaySmall": (36, 44, 400, 0.0),
    "headlineLarge": (32, 40, 400, 0.0),
    "headlineMedium": (28, 36, 400, 0.0),
    "headlineSmall": (24, 32, 400, 0.0),
    "titleLarge": (22, 28, 400, 0.0),
    "titleMedium": (16, 24, 500, 0.15),
    "titleSmall": (14, 20, 500, 0.1),
    "bodyLarge": (16, 24, 400, 0.5),
    "bodyMedium": (14, 20, 400, 0.25),
    "bodySmall": (12, 16, 400, 0.4),
    "labelLarge": (14, 20, 500, 0.1),
    "labelMedium": (12, 16, 500, 0.5),
    "labelSmall": (11, 16, 500, 0.5),
}
TYPOGRAPHY: Mapping[str, Mapping[str, Any]] = {
    name: {
        "fontFamily": FONT_FAMILY,
        "fontSize": size,
        "lineHeight": line,
        "fontWeight": str(weight),
        "letterSpacing": spacing,
    }
    for name, (size, line, weight, spacing) in _TYPE_SCALE.items()
}
SPACING: Mapping[str, int] = {"xs": 4, "sm": 8, "md": 16, "lg": 24, "xl": 32, "xxl": 48}
BORDER_RADIUS: Mapping[str, int] = {
    "none": 0,
    "xs": 4,
    "sm": 8,
    "md": 12,
    "lg": 16,
    "xl": 28,
    "full": 9999,
}
# M3 elevation levels 1-3 (+ none), in React Native's shadow props; CSS gets the same as box-shadow.
SHADOWS: Mapping[str, Mapping[str, Any]] = {
    name: {
        "shadowColor": "#000000",
        "shadowOffset": {"width": 0, "height": height},
        "shadowOpacity": opacity,
        "shadowRadius": radius,
        "elevation": elevation,
    }
    for name, (height, opacity, radius, elevation) in {
        "none": (0, 0.0, 0, 0),
        "sm": (1, 0.18, 3, 1),
        "md": (2, 0.2, 6, 3),
        "lg": (4, 0.22, 12, 6),
    }.items()
}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _box_shadow(shadow: Mapping[str, Any]) -> str:
    if shadow["elevation"] == 0:
        return "none"
    height, radius, opacity = (
        shadow["shadowOffset"]["height"],
        shadow["shadowRadius"],
        shadow["shadowOpacity"],
    )
    return (
        f"0 {height}px {radius}px rgba(0, 0, 0, {opacity}), "
        f"0 {max(1, height // 2)}px {max(1, radius // 3)}px rgba(0, 0, 0, {round(opacity / 2, 3)})"
    )


@dataclass(frozen=True)
class Theme:
    """A tenant's complete M3 theme. ``etag`` changes whenever any output would."""

    light: ColorScheme
    dark: ColorScheme
    source: BrandingConfig

    def as_dict(self) -> dict[str, Any]:
        """The seed's token groups, JSON-ready for React Native (``Colors.light.primary``...)."""
        return {
            "brand": {
                "companyName": self.source.company_name,
                "primaryColor": self.source.primary_color or DEFAULT_PRIMARY,
                "secondaryColor": self.source.secondary_color,
                "logoUrl": self.source.logo_url,
                "faviconUrl": self.source.favicon_url,
                "supportEmail": self.source.support_email,
            },
            "Colors": {"light": dict(self.light), "dark": dict(self.dark)},
            "Typography": {k: dict(v) for k, v in TYPOGRAPHY.items()},
            "Spacing": dict(SPACING),
            "BorderRadius": dict(BORDER_RADIUS),
            "Shadows": {
                k: {**v, "shadowOffset": dict(v["shadowOffset"])} for k, v in SHADOWS.items()
            },
        }

    def to_json(self) -> str:
        """``as_dict()`` as compact, key-sorted JSON (stable bytes, so a stable ``etag``)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def etag(self) -> str:
        """A strong HTTP entity tag (quoted) of the theme's content."""
        return '"' + hashlib.sha256(self.to_json().encode()).hexdigest()[:32] + '"'

    def to_css(self) -> str:
        """CSS custom properties: ``--md-sys-color-*`` (light by default, dark under
        ``prefers-color-scheme: dark`` or ``data-theme="dark"``; ``data-theme="light"`` forces
        light), ``--md-sys-typescale-*``, ``--md-sys-shape-corner-*``, ``--md-sys-elevation-*``
        and ``--rp-spacing-*``."""

        def colors(scheme: ColorScheme, indent: str) -> str:
            return "".join(
                f"{indent}--md-sys-color-{_kebab(role)}: {value};\n"
                for role, value in scheme.items()
            )

        lines = [":root {\n", "  color-scheme: light dark;\n", colors(self.light, "  ")]
        for name, style in TYPOGRAPHY.items():
            prefix = f"  --md-sys-typescale-{_kebab(name)}"
            lines.append(
                f"{prefix}-size: {style['fontSize']}px;\n"
                f"{prefix}-line-height: {style['lineHeight']}px;\n"
                f"{prefix}-weight: {style['fontWeight']};\n"
                f"{prefix}-tracking: {style['letterSpacing']}px;\n"
            )
        lines.append(f"  --md-sys-typescale-font: {FONT_FAMILY};\n")
        lines += [f"  --md-sys-shape-corner-{k}: {v}px;\n" for k, v in BORDER_RADIUS.items()]
        lines += [f"  --md-sys-elevation-{k}: {_box_shadow(v)};\n" for k, v in SHADOWS.items()]
        lines += [f"  --rp-spacing-{k}: {v}px;\n" for k, v in SPACING.items()]
        lines.append("}\n")
        dark = colors(self.dark, "    ")
        lines.append(
            "@media (prefers-color-scheme: dark) {\n"
            f'  :root:not([data-theme="light"]) {{\n    color-scheme: dark;\n{dark}  }}\n}}\n'
        )
        lines.append(
            f':root[data-theme="dark"] {{\n  color-scheme: dark;\n{colors(self.dark, "  ")}}}\n'
        )
        lines.append(
            f':root[data-theme="light"] {{\n  color-scheme: light;\n{colors(self.light, "  ")}}}\n'
        )
        return "".join(lines)


def build_theme(branding: BrandingConfig | Mapping[str, Any] | None = None) -> Theme:
    """The M3 theme of a tenant's branding (validated first when given as a mapping).

    Args:
        branding: the tenant's branding; ``None`` or no primary colour gives the default theme.

    Returns:
        Light and dark schemes with WCAG AA contrast on every on-colour pair, and the tokens.

    Raises:
        BrandingValidationError: the branding is invalid.
    """
    if branding is None:
        config = BrandingConfig()
    elif isinstance(branding, BrandingConfig):
        config = branding
    else:
        config = validate_branding(branding)
    palettes = Palettes.from_brand(config.primary_color or DEFAULT_PRIMARY, config.secondary_color)
    light, dark = build_schemes(palettes)
    return Theme(light=light, dark=dark, source=config)
