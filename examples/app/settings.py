"""Configuration of the reference app: the SDK's settings plus a few knobs of the demo itself.

Every SDK setting comes from :class:`relaypoint_core.config.RelayPointSettings` (``SECRET_KEY``,
``DATABASE_URL``, ``REDIS_URL``, ``ENABLE_*`` ...). The app adds the ``RELAYPOINT_*`` variables in
:data:`APP_ENVIRONMENT_VARIABLES`. Unlike the SDK, the demo defaults to ``ENVIRONMENT=development``
so that ``python -m examples.app`` starts on a fresh machine; it then signs tokens with an
ephemeral random key and says so at start-up.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from examples.app.server import SERVER_ENVIRONMENT_VARIABLES
from relaypoint_core.config import RelayPointSettings, load_settings
from relaypoint_core.errors import ConfigurationError

__all__ = [
    "APP_ENVIRONMENT_VARIABLES",
    "DEMO_PASSWORD",
    "AppConfig",
    "load_app_config",
]

# The password of every demo user in development (also written in README.md).
DEMO_PASSWORD = "relaypoint-demo"  # noqa: S105 - the published demo password, development only

APP_ENVIRONMENT_VARIABLES: dict[str, str] = {
    "RELAYPOINT_HOST": "interface uvicorn binds (default 127.0.0.1; 0.0.0.0 in the container)",
    "RELAYPOINT_PORT": "port uvicorn listens on (default 8000)",
    "RELAYPOINT_DEMO_SEED": "create the demo tenants and users on first start (default: true in development, false otherwise)",
    "RELAYPOINT_DEMO_PASSWORD": f"password of the demo users (default {DEMO_PASSWORD!r} in development; required to seed elsewhere)",
    "RELAYPOINT_BASE_DOMAIN": "base domain for subdomain tenant resolution, e.g. acme.<base> (default relaypoint.localhost)",
    "RELAYPOINT_KEY_PREFIX": "prefix of every Redis key the app writes (default rp:)",
    "RELAYPOINT_ANONYMOUS_TIER": "rate-limit tier of unauthenticated clients, by IP (default FREE)",
    "RELAYPOINT_TRUSTED_PROXIES": "comma-separated proxy IPs whose X-Forwarded-For is believed (default none)",
    **SERVER_ENVIRONMENT_VARIABLES,
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean; use true or false")


@dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start, read once from the environment."""

    settings: RelayPointSettings
    host: str = "127.0.0.1"
    port: int = 8000
    demo_seed: bool = True
    demo_password: str = DEMO_PASSWORD
    base_domain: str = "relaypoint.localhost"
    key_prefix: str = "rp:"
    anonymous_tier: str = "FREE"
    trusted_proxies: tuple[str, ...] = ()
    ephemeral_secret: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def secret_key(self) -> str:
        assert self.settings.SECRET_KEY is not None
        return self.settings.SECRET_KEY

    @property
    def uses_postgres(self) -> bool:
        return self.settings.DATABASE_URL.startswith("postgresql")

    @property
    def redis_url(self) -> str | None:
        return self.settings.REDIS_URL or None


def load_app_config(**overrides: object) -> AppConfig:
    """Read the SDK settings and the app's ``RELAYPOINT_*`` variables; fail fast with a clear message."""
    if "ENVIRONMENT" not in overrides and "ENVIRONMENT" not in os.environ:
        overrides["ENVIRONMENT"] = "development"
    settings = load_settings(**overrides)
    notes: list[str] = []
    ephemeral = False
    if not settings.SECRET_KEY:
        # Only reachable in development: RelayPointSettings refuses a missing key elsewhere.
        settings = settings.model_copy(update={"SECRET_KEY": secrets.token_urlsafe(48)})
        ephemeral = True
        notes.append(
            "SECRET_KEY is not set: signing tokens with an ephemeral random key "
            "(tokens die with this process; set SECRET_KEY to keep them)"
        )
    demo_seed = _flag("RELAYPOINT_DEMO_SEED", settings.is_development)
    demo_password = os.environ.get("RELAYPOINT_DEMO_PASSWORD") or ""
    if not demo_password:
        if demo_seed and not settings.is_development:
            raise ConfigurationError(
                "RELAYPOINT_DEMO_SEED is on outside development but RELAYPOINT_DEMO_PASSWORD is "
                "not set: set a strong demo password or turn the demo seed off"
            )
        demo_password = DEMO_PASSWORD
    try:
        port = int(os.environ.get("RELAYPOINT_PORT", "8000"))
    except ValueError as exc:
        raise ConfigurationError(
            f"RELAYPOINT_PORT={os.environ['RELAYPOINT_PORT']!r} is not a port number"
        ) from exc
    proxies = tuple(
        p.strip() for p in os.environ.get("RELAYPOINT_TRUSTED_PROXIES", "").split(",") if p.strip()
    )
    return AppConfig(
        settings=settings,
        host=os.environ.get("RELAYPOINT_HOST", "127.0.0.1"),
        port=port,
        demo_seed=demo_seed,
        demo_password=demo_password,
        base_domain=os.environ.get("RELAYPOINT_BASE_DOMAIN", "relaypoint.localhost").lower(),
        key_prefix=os.environ.get("RELAYPOINT_KEY_PREFIX", "rp:"),
        anonymous_tier=os.environ.get("RELAYPOINT_ANONYMOUS_TIER", "FREE").upper(),
        trusted_proxies=proxies,
        ephemeral_secret=ephemeral,
        notes=notes,
    )
