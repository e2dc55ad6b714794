"""Light and dark M3 colour schemes from brand colours, with WCAG 2.1 AA contrast enforced.

Each role is a tone of one tonal palette (primary, secondary, tertiary, error, neutral, neutral
variant, plus success and warning for status badges), as in the M3 baseline tone table. The
primary palette keeps the brand's own hue and chroma (M3's "content" scheme), so the brand stays
recognisable; the secondary palette comes from the brand's secondary colour when it has one.
Tone is L*, so the tone table alone already separates every on-colour pair by at least 4.5:1;
after rounding to sRGB each pair is measured and an on-colour that falls short is moved further
away in tone until it passes: the guarantee does not rest on arithmetic luck.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from relaypoint_tenancy.theme.color import contrast_ratio, lstar_from_hex
from relaypoint_tenancy.theme.hct import Hct, TonalPalette

__all__ = [
    "AA_NON_TEXT",
    "AA_TEXT",
    "CONTRAST_PAIRS",
    "ROLES",
    "ColorScheme",
    "Palettes",
    "build_schemes",
]

Mode = Literal["light", "dark"]
AA_TEXT = 4.5
AA_NON_TEXT = 3.0

# role: (palette, light tone, dark tone)
ROLES: Mapping[str, tuple[str, float, float]] = MappingProxyType(
    {
        **{
            name: spec
            for key in ("primary", "secondary", "tertiary", "error", "success", "warning")
            for name, spec in (
                (key, (key, 40, 80)),
                (f"on{key.title()}", (key, 100, 20)),
                (f"{key}Container", (key, 90, 30)),
                (f"on{key.title()}Container", (key, 10, 90)),
            )
        },
        "background": ("neutral", 98, 6),
        "onBackground": ("neutral", 10, 90),
        "surface": ("neutral", 98, 6),
        "onSurface": ("neutral", 10, 90),
        "surfaceDim": ("neutral", 87, 6),
        "surfaceBright": ("neutral", 98, 24),
        "surfaceContainerLowest": ("neutral", 100, 4),
        "surfaceContainerLow": ("neutral", 96, 10),
        "surfaceContainer": ("neutral", 94, 12),
        "surfaceContainerHigh": ("neutral", 92, 17),
        "surfaceContainerHighest": ("neutral", 90, 22),
        "surfaceVariant": ("neutralVariant", 90, 30),
        "onSurfaceVariant": ("neutralVariant", 30, 80),
        "outline": ("neutralVariant", 50, 60),
        "outlineVariant": ("neutralVariant", 80, 30),
        "inverseSurface": ("neutral", 20, 90),
        "inverseOnSurface": ("neutral", 95, 20),
        "inversePrimary": ("primary", 80, 40),
        "surfaceTint": ("primary", 40, 80),
        "shadow": ("neutral", 0, 0),
        "scrim": ("neutral", 0, 0),
    }
)

_SURFACES = (
    "background",
    "surface",
    "surfaceDim",
    "surfaceBright",
    "surfaceContainerLowest",
    "surfaceContainerLow",
    "surfaceContainer",
    "surfaceContainerHigh",
    "surfaceContainerHighest",
)
# (foreground, background, minimum ratio): every pair a UI may put text (or, at 3:1, an outline
# or a control boundary) on. Colour text on surfaces counts too: links and headings use primary.
CONTRAST_PAIRS: tuple[tuple[str, str, float], ...] = (
    *(
        pair
        for key in ("primary", "secondary", "tertiary", "error", "success", "warning")
        for pair in (
            (f"on{key.title()}", key, AA_TEXT),
            (f"on{key.title()}Container", f"{key}Container", AA_TEXT),
        )
    ),
    ("onBackground", "background", AA_TEXT),
    *((fg, bg, AA_TEXT) for bg in _SURFACES for fg in ("onSurface", "onSurfaceVariant")),
    *((fg, "surface", AA_TEXT) for fg in ("primary", "secondary", "tertiary", "error")),
    *((fg, "surfaceContainerLow", AA_TEXT) for fg in ("primary", "error")),
    ("onSurfaceVariant", "surfaceVariant", AA_TEXT),
    ("inverseOnSurface", "inverseSurface", AA_TEXT),
    ("inversePrimary", "inverseSurface", AA_NON_TEXT),
    ("outline", "surface", AA_NON_TEXT),
    ("outline", "surfaceContainerLow", AA_NON_TEXT),
)


@dataclass(frozen=True, slots=True)
class Palettes:
    """The key palettes a scheme draws its tones from."""

    primary: TonalPalette
    secondary: TonalPalette
    tertiary: TonalPalette
    error: TonalPalette = field(default_factory=lambda: TonalPalette(25.0, 84.0))
    success: TonalPalette = field(default_factory=lambda: TonalPalette(145.0, 48.0))
    warning: TonalPalette = field(default_factory=lambda: TonalPalette(75.0, 60.0))
    neutral: TonalPalette = field(default_factory=lambda: TonalPalette(0.0, 0.0))
    neutral_variant: TonalPalette = field(default_factory=lambda: TonalPalette(0.0, 0.0))

    @classmethod
    def from_brand(cls, primary: str, secondary: str | None = None) -> Palettes:
        """M3 content palettes for a brand: its primary hue and chroma as they are.

        Raises:
            BrandingValidationError: a colour is not hex.
        """
        source = Hct.from_hex(primary)
        if secondary is not None:
            second = TonalPalette.of(secondary)
        else:
            second = TonalPalette(source.hue, max(source.chroma - 32.0, source.chroma * 0.5))
        return cls(
            primary=TonalPalette(source.hue, source.chroma),
            secondary=second,
            tertiary=TonalPalette((source.hue + 60.0) % 360.0, max(24.0, source.chroma / 3.0)),
            neutral=TonalPalette(source.hue, min(source.chroma / 12.0, 4.0)),
            neutral_variant=TonalPalette(source.hue, min(source.chroma / 6.0, 8.0)),
        )

    def palette(self, name: str) -> TonalPalette:
        palette: TonalPalette = getattr(
            self, "neutral_variant" if name == "neutralVariant" else name
        )
        return palette


class ColorScheme(Mapping[str, str]):
    """One mode's colour roles (``scheme["primary"] == "#B22D00"``), camelCase as in M3."""

    __slots__ = ("_colors", "_tones", "mode")

    def __init__(self, mode: Mode, colors: Mapping[str, str], tones: Mapping[str, float]) -> None:
        self.mode = mode
        self._colors = dict(colors)
        self._tones = dict(tones)

    def __getitem__(self, role: str) -> str:
        return self._colors[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._colors)

    def __len__(self) -> int:
        return len(self._colors)

    def tone_of(self, role: str) -> float:
        """The tone the role was drawn at (after any contrast correction)."""
        return self._tones[role]

    def contrast(self, foreground: str, background: str) -> float:
        """The WCAG contrast ratio between two roles of this scheme."""
        return contrast_ratio(self._colors[foreground], self._colors[background])

    def failures(self) -> list[tuple[str, str, float, float]]:
        """Every pair of ``CONTRAST_PAIRS`` below its minimum: ``(fg, bg, ratio, minimum)``."""
        return [
            (fg, bg, ratio, minimum)
            for fg, bg, minimum in CONTRAST_PAIRS
            if (ratio := self.contrast(fg, bg)) < minimum
        ]


def _scheme(palettes: Palettes, mode: Mode) -> ColorScheme:
    tones = {role: (light if mode == "light" else dark) for role, (_, light, dark) in ROLES.items()}
    colors = {role: palettes.palette(ROLES[role][0]).tone(tone) for role, tone in tones.items()}
    # Move a failing foreground away from its background, one tone at a time; a foreground
    # shared by several backgrounds (onSurface) settles on the tone that passes them all.
    for _ in range(100):
        failing = False
        for fg, bg, minimum in CONTRAST_PAIRS:
            if contrast_ratio(colors[fg], colors[bg]) >= minimum:
                continue
            failing = True
            darker = lstar_from_hex(colors[fg]) < lstar_from_hex(colors[bg])
            step = -1.0 if darker else 1.0
            tones[fg] = min(100.0, max(0.0, tones[fg] + step))
            colors[fg] = palettes.palette(ROLES[fg][0]).tone(tones[fg])
        if not failing:
            break
    return ColorScheme(mode, colors, tones)


def build_schemes(palettes: Palettes) -> tuple[ColorScheme, ColorScheme]:
    """``(light, dark)`` schemes of ``palettes`` with every ``CONTRAST_PAIRS`` minimum met."""
    return _scheme(palettes, "light"), _scheme(palettes, "dark")
