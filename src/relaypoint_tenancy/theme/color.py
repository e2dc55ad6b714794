"""sRGB colours as ``#RRGGBB`` strings: parsing, CIE L*/Y conversions and WCAG 2.1 contrast.

Pure arithmetic on floats; shared by the HCT solver and the scheme builder.
"""

from __future__ import annotations

import math
import re

from relaypoint_tenancy.errors import BrandingValidationError

__all__ = [
    "contrast_ratio",
    "hex_from_rgb",
    "lstar_from_hex",
    "lstar_from_y",
    "parse_hex",
    "relative_luminance",
    "y_from_lstar",
]

_HEX = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# sRGB (linear, 0-100) to CIE XYZ under D65, as material-color-utilities defines it.
SRGB_TO_XYZ = (
    (0.41233895, 0.35762064, 0.18051042),
    (0.2126, 0.7152, 0.0722),
    (0.01932141, 0.11916382, 0.95034478),
)
XYZ_TO_SRGB = (
    (3.2413774792388685, -1.5376652402851851, -0.49885366846268053),
    (-0.9691452513005321, 1.8758853451067872, 0.04156585616912061),
    (0.05562093689691305, -0.20395524564742123, 1.0571799111220335),
)
WHITE_POINT_D65 = (95.047, 100.0, 108.883)
_EPSILON = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def parse_hex(value: str) -> tuple[int, int, int]:
    """``(r, g, b)`` in 0-255 from ``#RGB``, ``#RRGGBB`` or ``#RRGGBBAA`` (alpha is ignored).

    Raises:
        BrandingValidationError: ``value`` is not a hex colour.
    """
    if not isinstance(value, str) or _HEX.fullmatch(value.strip()) is None:
        raise BrandingValidationError(
            f"{value!r} is not a hex colour such as '#FF5722'", [f"color: {value!r} is not hex"]
        )
    digits = value.strip().lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def hex_from_rgb(rgb: tuple[int, int, int]) -> str:
    """``#RRGGBB`` (upper case) from 0-255 channels."""
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def linearized(channel: int) -> float:
    """An 8-bit sRGB channel as linear light, 0-100."""
    normalized = channel / 255.0
    if normalized <= 0.040449936:
        return normalized / 12.92 * 100.0
    return float(((normalized + 0.055) / 1.055) ** 2.4 * 100.0)


def delinearized(linear: float) -> int:
    """Linear light (0-100) as an 8-bit sRGB channel, clamped to the gamut."""
    normalized = linear / 100.0
    if normalized <= 0.0031308:
        encoded = normalized * 12.92
    else:
        encoded = 1.055 * math.pow(normalized, 1.0 / 2.4) - 0.055
    return max(0, min(255, round(encoded * 255.0)))


def xyz_from_rgb(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = (linearized(c) for c in rgb)
    x, y, z = ((m[0] * r + m[1] * g + m[2] * b) for m in SRGB_TO_XYZ)
    return x, y, z


def rgb_from_xyz(x: float, y: float, z: float) -> tuple[int, int, int]:
    r, g, b = ((m[0] * x + m[1] * y + m[2] * z) for m in XYZ_TO_SRGB)
    return delinearized(r), delinearized(g), delinearized(b)


def _lab_f(t: float) -> float:
    return math.cbrt(t) if t > _EPSILON else (_KAPPA * t + 16.0) / 116.0


def _lab_inv_f(ft: float) -> float:
    cube = ft * ft * ft
    return cube if cube > _EPSILON else (116.0 * ft - 16.0) / _KAPPA


def y_from_lstar(lstar: float) -> float:
    """CIE Y (0-100) of an L* lightness (0-100): HCT's tone is L*."""
    return 100.0 * _lab_inv_f((lstar + 16.0) / 116.0)


def lstar_from_y(y: float) -> float:
    """CIE L* (0-100) of a luminance Y (0-100)."""
    return 116.0 * _lab_f(y / 100.0) - 16.0


def lstar_from_hex(value: str) -> float:
    """The tone (L*) of a hex colour."""
    return lstar_from_y(xyz_from_rgb(parse_hex(value))[1])


def relative_luminance(value: str) -> float:
    """WCAG 2.1 relative luminance (0-1) of a hex colour."""

    def channel(c: int) -> float:
        s = c / 255.0
        return s / 12.92 if s <= 0.04045 else float(((s + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(c) for c in parse_hex(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.1 contrast ratio (1-21) between two hex colours; AA text needs 4.5."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)
