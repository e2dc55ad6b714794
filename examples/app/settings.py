"""Configuration of the reference app: the SDK's settings plus a few knobs of the demo itself.

Every SDK setting comes from `relaypoint_core.config.RelayPointSettings` (``SECRET_KEY``,
``DATABASE_URL``, ``REDIS_URL``, ``ENABLE_*`` ...). The app adds the ``RELAYPOINT_*`` variables of
`AppEnvironment` and `examples.app.server.ServerEnvironment`, listed with their descriptions in
`APP_ENVIRONMENT_VARIABLES`. Both are pydantic-settings classes read through
`relaypoint_core.environment.read_settings`, so a bad value stops the start with a message naming
the variable. Unlike the SDK, the demo defaults to ``ENVIRONMENT=development`` (`AppSettings`)
so that ``python -m examples.app`` starts on a fresh machine; it then signs tokens with an
ephemeral random key and says so at start-up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from examples.app.server import SERVER_ENVIRONMENT_VARIABLES
from relaypoint_core.config import RelayPointSettings
from relaypoint_core.environment import CsvList, Flag, environment_variables, read_settings
from relaypoint_core.errors import ConfigurationError

__all__ = [
    "APP_ENVIRONMENT_VARIABLES",
    "DEMO_PASSWORD",
    "AppConfig",
    "AppEnvironment",
    "AppSettings",
    "load_app_config",
]

# The password of every demo user in development (also written in README.md).
DEMO_PASSWORD = "relaypoint-demo"  # noqa: S105 - the published demo password, development only


def _port(value: object) -> object:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ValueError("is not a port number") from None
    if isinstance(value, int) and not 0 <= value <= 65535:
        raise ValueError("is not a port number")
    return value


class AppSettings(RelayPointSettings):
    """The SDK settings as the demo reads them: ``ENVIRONMENT`` defaults to ``development``."""

    ENVIRONMENT: str = "development"


class AppEnvironment(BaseSettings):
    """The app's own ``RELAYPOINT_*`` variables (the SDK's come from `RelayPointSettings`)."""

    model_config = SettingsConfigDict(
        env_prefix="RELAYPOINT_", case_sensitive=False, extra="ignore", env_file=None
    )

    host: str = Field(
        "127.0.0.1",
        description="interface uvicorn binds (default 127.0.0.1; 0.0.0.0 in the container)",
    )
    port: Annotated[int, BeforeValidator(_port)] = Field(
        8000, description="port uvicorn listens on (default 8000)"
    )
    demo_seed: Flag | None = Field(
        None,
        description="create the demo tenants and users on first start (default: true in development, false otherwise)",
    )
    demo_password: str = Field(
        "",
        repr=False,
        description=f"password of the demo users (default {DEMO_PASSWORD!r} in development; required to seed elsewhere)",
    )
    base_domain: str = Field(
        "relaypoint.localhost",
        description="base domain for subdomain tenant resolution, e.g. acme.<base> (default relaypoint.localhost)",
    )
    key_prefix: str = Field(
        "rp:", description="prefix of every Redis key the app writes (default rp:)"
    )
    anonymous_tier: str = Field(
        "FREE", description="rate-limit tier of unauthenticated clients, by IP (default FREE)"
    )
    trusted_proxies: CsvList = Field(
        default_factory=list,
        description="comma-separated proxy IPs whose X-Forwarded-For is believed (default none)",
    )
    quota_lease: float = Field(
        0.0,
        ge=0.0,
        le=0.5,
        description="share of a window's limit a process may lease from Redis and admit locally (0 = off, the default; 0.05 = 5 %)",
    )

    @field_validator("base_domain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("anonymous_tier")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


APP_ENVIRONMENT_VARIABLES: dict[str, str] = {
    **environment_variables(AppEnvironment),
    **SERVER_ENVIRONMENT_VARIABLES,
}


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
    quota_lease: float = 0.0
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


def load_app_config(**overrides: Any) -> AppConfig:
    """Read the SDK settings and the app's ``RELAYPOINT_*`` variables; fail fast with a clear message.

    Args:
        **overrides: SDK settings that win over the environment (`RelayPointSettings` fields).

    Returns:
        The app's configuration.

    Raises:
        ConfigurationError: A variable is invalid (the message names it), or the demo seed is on
            outside development without a demo password.
    """
    settings: RelayPointSettings = read_settings(
        AppSettings, what="RelayPoint configuration", **overrides
    )
    app = read_settings(AppEnvironment, what="reference app configuration")
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
    demo_seed = settings.is_development if app.demo_seed is None else app.demo_seed
    demo_password = app.demo_password
    if not demo_password:
        if demo_seed and not settings.is_development:
            raise ConfigurationError(
                "RELAYPOINT_DEMO_SEED is on outside development but RELAYPOINT_DEMO_PASSWORD is "
                "not set: set a strong demo password or turn the demo seed off"
            )
        demo_password = DEMO_PASSWORD
    return AppConfig(
        settings=settings,
        host=app.host,
        port=app.port,
        demo_seed=demo_seed,
        demo_password=demo_password,
        base_domain=app.base_domain,
        key_prefix=app.key_prefix,
        anonymous_tier=app.anonymous_tier,
        trusted_proxies=tuple(app.trusted_proxies),
        quota_lease=app.quota_lease,
        ephemeral_secret=ephemeral,
        notes=notes,
    )
