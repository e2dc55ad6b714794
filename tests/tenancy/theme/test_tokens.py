"""The seed's token groups as JSON and as CSS custom properties; the ETag follows the content."""

from __future__ import annotations

import json
import re

from relaypoint_tenancy.theme import ROLES, build_theme

ACME = {"primary_color": "#FF5722", "secondary_color": "#00BCD4", "company_name": "Acme"}


def test_json_has_the_seed_token_groups() -> None:
    tokens = json.loads(build_theme(ACME).to_json())
    assert {"Colors", "Typography", "Spacing", "BorderRadius", "Shadows"} <= set(tokens)
    assert set(tokens["Colors"]) == {"light", "dark"}
    assert set(tokens["Colors"]["light"]) == set(ROLES)
    assert tokens["Typography"]["titleLarge"]["fontSize"] == 22
    assert tokens["Typography"]["bodyMedium"]["fontWeight"] == "400"
    assert tokens["Spacing"]["md"] == 16
    assert tokens["BorderRadius"]["lg"] == 16
    assert tokens["Shadows"]["md"]["shadowOffset"] == {"width": 0, "height": 2}
    assert tokens["brand"]["primaryColor"] == "#FF5722"


def test_css_declares_every_role_for_light_and_dark() -> None:
    theme = build_theme(ACME)
    css = theme.to_css()
    declared = re.findall(r"--md-sys-color-([a-z-]+): (#[0-9A-F]{6});", css)
    names = {name for name, _ in declared}
    assert "on-primary-container" in names
    assert "surface-container-highest" in names
    assert len(names) == len(ROLES)
    assert f"--md-sys-color-primary: {theme.light['primary']};" in css
    assert f"--md-sys-color-primary: {theme.dark['primary']};" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert ':root[data-theme="dark"]' in css
    assert "--md-sys-typescale-title-large-size: 22px;" in css
    assert "--md-sys-shape-corner-lg: 16px;" in css
    assert "--rp-spacing-md: 16px;" in css


def test_etag_is_stable_and_changes_with_any_branding_change() -> None:
    assert build_theme(ACME).etag == build_theme(dict(ACME)).etag
    assert build_theme(ACME).etag != build_theme({**ACME, "primary_color": "#FF5723"}).etag
    assert build_theme(ACME).etag != build_theme({**ACME, "company_name": "Acme Inc"}).etag
    assert re.fullmatch(r'"[0-9a-f]{32}"', build_theme(ACME).etag)


def test_no_branding_gives_the_default_theme() -> None:
    assert (
        build_theme(None).light["primary"]
        == build_theme({"primary_color": "#3F51B5"}).light["primary"]
    )


def test_the_seed_design_system_sample_finds_every_token_it_uses() -> None:
    # From the seed: Typography.titleLarge / .bodyMedium, Spacing.md, BorderRadius.lg,
    # ...Shadows.md, <Button color="primary">, <Badge variant="soft" color="success">.
    tokens = build_theme(ACME).as_dict()
    assert {"fontSize", "lineHeight", "fontWeight"} <= set(tokens["Typography"]["titleLarge"])
    assert tokens["Typography"]["bodyMedium"]["fontSize"] == 14
    assert tokens["Spacing"]["md"] == 16
    assert tokens["BorderRadius"]["lg"] == 16
    assert {"shadowColor", "shadowOffset", "shadowRadius", "elevation"} <= set(
        tokens["Shadows"]["md"]
    )
    for mode in ("light", "dark"):
        colors = tokens["Colors"][mode]
        assert {"primary", "onPrimary", "successContainer", "onSuccessContainer"} <= set(colors)
