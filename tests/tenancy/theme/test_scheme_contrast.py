"""WCAG 2.1 AA on every on-colour pair, in both schemes, whatever the brand colour; and the
brand's hue survives into primary."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relaypoint_tenancy import BrandingValidationError
from relaypoint_tenancy.theme import CONTRAST_PAIRS, ROLES, Hct, build_theme, contrast_ratio
from relaypoint_tenancy.theme.color import hex_from_rgb

colors = st.tuples(*(st.integers(0, 255),) * 3).map(hex_from_rgb)


def hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_wcag_contrast_formula_on_known_pairs() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    # #767676 is the lightest grey that passes AA on white; #777777 is the first that fails.
    assert contrast_ratio("#767676", "#FFFFFF") >= 4.5 > contrast_ratio("#777777", "#FFFFFF")


@settings(max_examples=60, deadline=None)
@given(primary=colors, secondary=st.none() | colors)
@example(primary="#FFFF00", secondary=None)
@example(primary="#FFFF00", secondary="#FFFFFF")
@example(primary="#000000", secondary="#000000")
@example(primary="#FFFFFF", secondary="#00FFFF")
def test_every_on_colour_pair_meets_aa_in_both_schemes(primary: str, secondary: str | None) -> None:
    theme = build_theme({"primary_color": primary, "secondary_color": secondary})
    for scheme in (theme.light, theme.dark):
        assert set(scheme) == set(ROLES)
        for fg, bg, minimum in CONTRAST_PAIRS:
            ratio = contrast_ratio(scheme[fg], scheme[bg])
            assert ratio >= minimum, (scheme.mode, primary, fg, bg, ratio)
        assert scheme.failures() == []


@settings(max_examples=60, deadline=None)
@given(primary=colors)
@example(primary="#FFFF00")
def test_primary_keeps_the_brand_hue(primary: str) -> None:
    brand = Hct.from_hex(primary)
    theme = build_theme({"primary_color": primary})
    for scheme in (theme.light, theme.dark):
        for role in ("primary", "primaryContainer"):
            got = Hct.from_hex(scheme[role])
            if brand.chroma >= 8.0 and got.chroma >= 4.0:
                assert hue_distance(got.hue, brand.hue) < 4.0, (scheme.mode, role, primary)


def test_pure_yellow_gets_dark_olive_primary_with_white_text() -> None:
    theme = build_theme({"primary_color": "#FFFF00"})
    assert theme.light["onPrimary"] == "#FFFFFF"
    assert contrast_ratio(theme.light["onPrimary"], theme.light["primary"]) >= 4.5
    assert contrast_ratio(theme.dark["onPrimary"], theme.dark["primary"]) >= 4.5
    assert Hct.from_hex(theme.light["primary"]).tone == pytest.approx(40.0, abs=0.6)


def test_an_invalid_colour_is_refused_with_the_branding_error() -> None:
    with pytest.raises(BrandingValidationError):
        build_theme({"primary_color": "red; background: url(x)"})
