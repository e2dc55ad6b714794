"""White-label branding, validated before it is stored (colors, https URLs, email, lengths)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from relaypoint_tenancy.errors import BrandingValidationError

__all__ = ["BrandingConfig", "validate_branding"]

_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# Deliberately conservative: one @, a dotted domain, no spaces, quotes or angle brackets.
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.\-]+(?::\d{1,5})?(?:/[^\s\"'<>]*)?")


def _hex_color(value: str) -> str:
    if _HEX_COLOR.fullmatch(value) is None:
        raise ValueError("must be a hex color such as '#FF5722'")
    return value.upper()


def _https_url(value: str) -> str:
    if len(value) > 2048 or _HTTPS_URL.fullmatch(value) is None:
        raise ValueError("must be an https:// URL without spaces or quotes (at most 2048 chars)")
    return value


def _email(value: str) -> str:
    if len(value) > 254 or _EMAIL.fullmatch(value) is None:
        raise ValueError("must be an email address such as 'support@example.com'")
    return value


HexColor = Annotated[str, AfterValidator(_hex_color)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Email = Annotated[str, AfterValidator(_email)]


class BrandingConfig(BaseModel):
    """A tenant's branding. Unknown keys are refused so typos do not silently vanish."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    primary_color: HexColor | None = None
    secondary_color: HexColor | None = None
    logo_url: HttpsUrl | None = None
    favicon_url: HttpsUrl | None = None
    company_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    support_email: Email | None = None


def validate_branding(config: Mapping[str, Any]) -> BrandingConfig:
    """Parse ``config`` or raise `BrandingValidationError` listing every bad field."""
    if not isinstance(config, Mapping):
        raise BrandingValidationError(
            "branding_config must be a mapping", ["<root>: not a mapping"]
        )
    try:
        return BrandingConfig.model_validate(dict(config))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "<root>"
            if error["type"] == "extra_forbidden":
                allowed = ", ".join(BrandingConfig.model_fields)
                problems.append(f"{field}: unknown branding key (allowed: {allowed})")
            else:
                problems.append(f"{field}: {error['msg']}")
        raise BrandingValidationError(
            "invalid branding_config: " + "; ".join(problems), problems
        ) from None
