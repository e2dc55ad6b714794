"""Our HCT implementation agrees with the ``materialyoucolor`` package (a port of Google's
material-color-utilities), the reference the M3 tone tables are defined by."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_tenancy.theme import Hct, TonalPalette
from relaypoint_tenancy.theme.color import hex_from_rgb

reference_hct = pytest.importorskip("materialyoucolor.hct").Hct
reference_cam16 = pytest.importorskip("materialyoucolor.hct.cam16").Cam16
reference_palette = pytest.importorskip("materialyoucolor.palettes.tonal_palette").TonalPalette

rgb = st.tuples(*(st.integers(0, 255),) * 3)


def hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def argb(hex_color: str) -> int:
    return 0xFF000000 | int(hex_color[1:], 16)


def hex_of(argb_value: int) -> str:
    return f"#{argb_value & 0xFFFFFF:06X}"


@settings(max_examples=200, deadline=None)
@given(rgb)
def test_hue_chroma_and_tone_of_a_colour_match_the_reference(
    channels: tuple[int, int, int],
) -> None:
    color = hex_from_rgb(channels)
    ours, theirs = Hct.from_hex(color), reference_hct.from_int(argb(color))
    assert math.isclose(ours.tone, theirs.tone, abs_tol=1e-6)
    assert math.isclose(ours.chroma, theirs.chroma, abs_tol=1e-6)
    if theirs.chroma > 1e-3:
        assert hue_distance(ours.hue, theirs.hue) < 1e-6


@settings(max_examples=80, deadline=None)
@given(
    hue=st.floats(0, 359.9),
    chroma=st.floats(0, 120),
    tone=st.sampled_from([0, 4, 10, 20, 30, 40, 50, 60, 80, 90, 95, 98, 100]),
)
def test_palette_tones_match_the_reference_solver(hue: float, chroma: float, tone: int) -> None:
    ours_hex = TonalPalette(hue, chroma).tone(tone)
    ours = reference_cam16.from_int(argb(ours_hex))
    theirs = reference_hct.from_int(reference_palette.from_hue_and_chroma(hue, chroma).tone(tone))
    # The reference solves for the gamut's edge analytically on the exact hue; ours bisects and
    # accepts a colour within one just-noticeable difference of the hue. Near a sharp cusp of
    # the gamut (bright yellows near white) that tolerance reaches more chroma than the exact
    # hue allows, so a plain distance to the reference's colour is not bounded (7 CAM16-UCS units
    # at hue 110.5, tone 98). What we guarantee, and assert: the tone (which the contrast
    # guarantee rests on), the hue within a JND, never noticeably duller than the reference's
    # edge and never more colourful than asked, beyond 8-bit rounding (measured over 6,000
    # random requests: at most 1.45 duller, 2.77 above).
    assert abs(Hct.from_hex(ours_hex).tone - theirs.tone) < 0.6
    if chroma >= 1.0 and 0 < tone < 100:
        on_hue = reference_cam16.from_jch(ours.j, ours.chroma, hue)
        assert ours.distance(on_hue) <= 1.0 + 1e-4
    assert ours.chroma >= theirs.chroma - 2.0
    assert ours.chroma <= chroma + 3.5
