"""Material Design 3 themes from tenant branding: HCT colour science, light and dark schemes with
WCAG 2.1 AA contrast enforced, and the seed's design tokens as JSON and CSS custom properties.

Pure computation: no web framework and no optional dependency.

    theme = build_theme({"primary_color": "#FF5722", "secondary_color": "#00BCD4"})
    theme.light["primary"], theme.dark["onPrimary"]
    theme.as_dict()["Colors"]   # React Native
    theme.to_css()              # --md-sys-color-primary: ...
"""

from __future__ import annotations

from relaypoint_tenancy.theme.color import contrast_ratio, relative_luminance
from relaypoint_tenancy.theme.hct import Hct, TonalPalette
from relaypoint_tenancy.theme.scheme import (
    AA_NON_TEXT,
    AA_TEXT,
    CONTRAST_PAIRS,
    ROLES,
    ColorScheme,
    Palettes,
    build_schemes,
)
from relaypoint_tenancy.theme.tokens import (
    BORDER_RADIUS,
    DEFAULT_PRIMARY,
    SHADOWS,
    SPACING,
    TYPOGRAPHY,
    Theme,
    build_theme,
)

__all__ = [
    "AA_NON_TEXT",
    "AA_TEXT",
    "BORDER_RADIUS",
    "CONTRAST_PAIRS",
    "DEFAULT_PRIMARY",
    "ROLES",
    "SHADOWS",
    "SPACING",
    "TYPOGRAPHY",
    "ColorScheme",
    "Hct",
    "Palettes",
    "Theme",
    "TonalPalette",
    "build_schemes",
    "build_theme",
    "contrast_ratio",
    "relative_luminance",
]
