"""HCT (hue, chroma, tone): Material Design 3's colour space, CAM16 hue and chroma with CIE L*
as tone, and the solver that finds an sRGB colour for any (hue, chroma, tone).

Written from the published CAM16 equations and the algorithm of Google's
material-color-utilities (default viewing conditions: D65, 200/pi * Y(50)/100 adapting luminance,
L* 50 background, average surround). The tests compare it with the ``materialyoucolor`` package.
Tone is exact L*, so two colours' WCAG contrast follows from their tones alone, whatever the hue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from relaypoint_tenancy.theme.color import (
    WHITE_POINT_D65,
    hex_from_rgb,
    lstar_from_y,
    parse_hex,
    rgb_from_xyz,
    xyz_from_rgb,
    y_from_lstar,
)

__all__ = ["Hct", "TonalPalette"]


@dataclass(frozen=True, slots=True)
class _ViewingConditions:
    n: float
    aw: float
    nbb: float
    ncb: float
    c: float
    nc: float
    rgb_d: tuple[float, float, float]
    fl: float
    fl_root: float
    z: float


def _default_viewing_conditions() -> _ViewingConditions:
    x, y, z = WHITE_POINT_D65
    adapting_luminance = (200.0 / math.pi) * y_from_lstar(50.0) / 100.0
    background_lstar = 50.0
    surround = 2.0
    r_w = x * 0.401288 + y * 0.650173 + z * -0.051461
    g_w = x * -0.250268 + y * 1.204414 + z * 0.045854
    b_w = x * -0.002079 + y * 0.048952 + z * 0.953127
    f = 0.8 + surround / 10.0
    c = 0.59 + (0.69 - 0.59) * ((f - 0.9) * 10.0) if f >= 0.9 else 0.525 + 0.065 * (f - 0.8) * 10
    d = f * (1.0 - (1.0 / 3.6) * math.exp((-adapting_luminance - 42.0) / 92.0))
    d = max(0.0, min(1.0, d))
    rgb_d = (d * (100.0 / r_w) + 1.0 - d, d * (100.0 / g_w) + 1.0 - d, d * (100.0 / b_w) + 1.0 - d)
    k = 1.0 / (5.0 * adapting_luminance + 1.0)
    k4 = k**4
    k4f = 1.0 - k4
    fl = k4 * adapting_luminance + 0.1 * k4f * k4f * math.cbrt(5.0 * adapting_luminance)
    n = y_from_lstar(background_lstar) / y
    zz = 1.48 + math.sqrt(n)
    nbb = 0.725 / n**0.2
    factors = [
        (fl * d_i * w / 100.0) ** 0.42 for d_i, w in zip(rgb_d, (r_w, g_w, b_w), strict=True)
    ]
    rgb_a = [400.0 * f_i / (f_i + 27.13) for f_i in factors]
    aw = (2.0 * rgb_a[0] + rgb_a[1] + 0.05 * rgb_a[2]) * nbb
    return _ViewingConditions(n, aw, nbb, nbb, c, f, rgb_d, fl, fl**0.25, zz)


_VC = _default_viewing_conditions()


@dataclass(frozen=True, slots=True)
class _Cam16:
    hue: float
    chroma: float
    j: float

    @staticmethod
    def from_xyz(x: float, y: float, z: float) -> _Cam16:
        vc = _VC
        r_c = 0.401288 * x + 0.650173 * y - 0.051461 * z
        g_c = -0.250268 * x + 1.204414 * y + 0.045854 * z
        b_c = -0.002079 * x + 0.048952 * y + 0.953127 * z
        adapted = []
        for channel, d in zip((r_c, g_c, b_c), vc.rgb_d, strict=True):
            value = d * channel
            af = (vc.fl * abs(value) / 100.0) ** 0.42
            adapted.append(math.copysign(1.0, value) * 400.0 * af / (af + 27.13))
        r_a, g_a, b_a = adapted
        a = (11.0 * r_a - 12.0 * g_a + b_a) / 11.0
        b = (r_a + g_a - 2.0 * b_a) / 9.0
        u = (20.0 * r_a + 20.0 * g_a + 21.0 * b_a) / 20.0
        p2 = (40.0 * r_a + 20.0 * g_a + b_a) / 20.0
        hue = math.degrees(math.atan2(b, a)) % 360.0
        ac = p2 * vc.nbb
        j = 100.0 * (max(ac, 0.0) / vc.aw) ** (vc.c * vc.z)
        hue_prime = hue + 360.0 if hue < 20.14 else hue
        e_hue = 0.25 * (math.cos(math.radians(hue_prime) + 2.0) + 3.8)
        p1 = 50000.0 / 13.0 * e_hue * vc.nc * vc.ncb
        t = p1 * math.hypot(a, b) / (u + 0.305)
        alpha = t**0.9 * (1.64 - 0.29**vc.n) ** 0.73
        return _Cam16(hue, alpha * math.sqrt(j / 100.0), j)

    def to_xyz(self) -> tuple[float, float, float]:
        vc = _VC
        alpha = (
            0.0 if self.chroma == 0.0 or self.j == 0.0 else self.chroma / math.sqrt(self.j / 100)
        )
        t = (alpha / (1.64 - 0.29**vc.n) ** 0.73) ** (1.0 / 0.9)
        h_rad = math.radians(self.hue)
        e_hue = 0.25 * (math.cos(h_rad + 2.0) + 3.8)
        ac = vc.aw * (self.j / 100.0) ** (1.0 / vc.c / vc.z)
        p1 = e_hue * (50000.0 / 13.0) * vc.nc * vc.ncb
        p2 = ac / vc.nbb
        h_sin, h_cos = math.sin(h_rad), math.cos(h_rad)
        gamma = 23.0 * (p2 + 0.305) * t / (23.0 * p1 + 11.0 * t * h_cos + 108.0 * t * h_sin)
        a, b = gamma * h_cos, gamma * h_sin
        r_a = (460.0 * p2 + 451.0 * a + 288.0 * b) / 1403.0
        g_a = (460.0 * p2 - 891.0 * a - 261.0 * b) / 1403.0
        b_a = (460.0 * p2 - 220.0 * a - 6300.0 * b) / 1403.0
        unadapted = []
        for value, d in zip((r_a, g_a, b_a), vc.rgb_d, strict=True):
            base = max(0.0, 27.13 * abs(value) / (400.0 - abs(value)))
            unadapted.append(math.copysign(1.0, value) * (100.0 / vc.fl) * base ** (1.0 / 0.42) / d)
        r_f, g_f, b_f = unadapted
        x = 1.86206786 * r_f - 1.01125463 * g_f + 0.14918677 * b_f
        y = 0.38752654 * r_f + 0.62144744 * g_f - 0.00897398 * b_f
        z = -0.01584150 * r_f - 0.03412294 * g_f + 1.04996444 * b_f
        return x, y, z

    def ucs(self) -> tuple[float, float, float]:
        m = self.chroma * _VC.fl_root
        m_star = math.log1p(0.0228 * m) / 0.0228
        h_rad = math.radians(self.hue)
        j_star = 1.7 * self.j / (1.0 + 0.007 * self.j)
        return j_star, m_star * math.cos(h_rad), m_star * math.sin(h_rad)

    def distance(self, other: _Cam16) -> float:
        a, b = self.ucs(), other.ucs()
        delta = math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True)))
        return 1.41 * math.pow(delta, 0.63)


def _cam_of_rgb(rgb: tuple[int, int, int]) -> _Cam16:
    return _Cam16.from_xyz(*xyz_from_rgb(rgb))


def _gray(tone: float) -> tuple[int, int, int]:
    y = y_from_lstar(tone)
    return rgb_from_xyz(y * 0.95047, y, y * 1.08883)


def _find_by_j(hue: float, chroma: float, tone: float) -> tuple[int, int, int] | None:
    """Bisect CAM16 lightness J for ``tone``; accept a gamut-clipped colour only if it stays
    within a just-noticeable difference of the requested hue. Near black one 8-bit step can move
    L* by more than 0.2, so when nothing lands within 0.2 the closest one within 0.35 is taken."""
    low, high = 0.0, 100.0
    best: tuple[int, int, int] | None = None
    best_de = 1000.0
    loose: tuple[int, int, int] | None = None
    loose_dl = 0.35
    while abs(low - high) > 0.01:
        mid = low + (high - low) / 2.0
        rgb = rgb_from_xyz(*_Cam16(hue, chroma, mid).to_xyz())
        clipped_tone = lstar_from_y(xyz_from_rgb(rgb)[1])
        d_l = abs(tone - clipped_tone)
        if d_l < 0.35:
            cam = _cam_of_rgb(rgb)
            d_e = cam.distance(_Cam16(hue, cam.chroma, cam.j))
            if d_e <= 1.0:
                if d_l < 0.2 and d_e <= best_de:
                    best, best_de = rgb, d_e
                elif d_l < loose_dl:
                    loose, loose_dl = rgb, d_l
        if best is not None and best_de == 0.0:
            break
        if clipped_tone < tone:
            low = mid
        else:
            high = mid
    return best if best is not None else loose


@lru_cache(maxsize=4096)
def _solve(hue: float, chroma: float, tone: float) -> tuple[int, int, int]:
    """The sRGB colour of (hue, chroma, tone), chroma reduced as far as the gamut needs."""
    if chroma < 1.0 or round(tone) <= 0 or round(tone) >= 100:
        return _gray(tone)
    hue %= 360.0
    found = _find_by_j(hue, chroma, tone)
    if found is not None:
        return found
    low, high = 0.0, chroma
    answer: tuple[int, int, int] | None = None
    while abs(high - low) >= 0.4:
        mid = low + (high - low) / 2.0
        found = _find_by_j(hue, mid, tone)
        if found is None:
            high = mid
        else:
            answer, low = found, mid
    return answer if answer is not None else _gray(tone)


@dataclass(frozen=True, slots=True)
class Hct:
    """A colour in HCT: ``hue`` in degrees, ``chroma`` (0 to about 150), ``tone`` = L* (0-100)."""

    hue: float
    chroma: float
    tone: float

    @classmethod
    def from_hex(cls, value: str) -> Hct:
        """The HCT of a hex colour.

        Raises:
            BrandingValidationError: ``value`` is not a hex colour.
        """
        rgb = parse_hex(value)
        cam = _cam_of_rgb(rgb)
        return cls(cam.hue, cam.chroma, lstar_from_y(xyz_from_rgb(rgb)[1]))

    @classmethod
    def solve(cls, hue: float, chroma: float, tone: float) -> str:
        """The hex colour closest to (hue, chroma, tone) inside sRGB: hue and tone are kept,
        chroma is reduced until the colour fits the gamut."""
        return hex_from_rgb(_solve(round(hue % 360.0, 6), round(chroma, 6), round(tone, 6)))


@dataclass(frozen=True, slots=True)
class TonalPalette:
    """Every tone of one hue and chroma, as M3 key colours define their palettes."""

    hue: float
    chroma: float

    @classmethod
    def of(cls, value: str) -> TonalPalette:
        """The palette of a hex colour's own hue and chroma."""
        hct = Hct.from_hex(value)
        return cls(hct.hue, hct.chroma)

    def tone(self, tone: float) -> str:
        """The palette's colour at ``tone`` (0 = black, 100 = white) as ``#RRGGBB``."""
        return Hct.solve(self.hue, self.chroma, tone)
