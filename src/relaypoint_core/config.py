"""Settings read from the environment variables named in the RelayPoint documentation.

``RelayPointSettings()`` reads ``SECRET_KEY``, ``REDIS_URL``, ``DATABASE_URL``, ``ENABLE_*``,
``ALLOWED_HOSTS``, ``CORS_ORIGINS`` ... from the environment (or a ``.env`` file you pass). A
missing or weak ``SECRET_KEY`` outside development fails at start-up with a message that says how
to generate a good one, instead of silently signing tokens with a guessable key.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relaypoint_core.environment import CsvList, Flag, read_settings

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEVELOPMENT_ENVIRONMENTS",
    "DatabaseEnvironment",
    "RelayPointSettings",
    "configured_database_url",
    "load_settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./relaypoint.sqlite3"
"""The database every package uses when ``DATABASE_URL`` is unset: embedded SQLite in ``./``."""

DEVELOPMENT_ENVIRONMENTS = frozenset({"development", "dev", "local", "test"})
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_ENTROPY_BITS = 128.0
_HMAC = frozenset({"HS256", "HS384", "HS512"})
# Kept in step with relaypoint_core.auth.keys.ALLOWED_ALGORITHMS (config must not import auth).
_JWT_ALGORITHMS = _HMAC | {"EdDSA", "Ed25519", "RS256", "RS384", "RS512", "ES256", "PS256"}
_PLACEHOLDER_MARKERS = ("change", "secret-key", "your-", "example", "placeholder", "changeme")


def _entropy_bits(value: str) -> float:
    """Shannon entropy of the string times its length: a cheap estimate of guessability."""
    counts = Counter(value)
    total = len(value)
    per_char = -sum(c / total * math.log2(c / total) for c in counts.values())
    return per_char * total


class RelayPointSettings(BaseSettings):
    """Process-wide configuration; every field maps to the environment variable of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    PROJECT_NAME: str = "RelayPoint Enterprise"
    API_V1_STR: str = "/api/v1"
    DEBUG: Flag = False
    ENVIRONMENT: str = "production"

    DATABASE_URL: str = DEFAULT_DATABASE_URL
    REDIS_URL: str | None = None

    SECRET_KEY: str | None = Field(default=None, repr=False)
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=30, ge=1, le=24 * 60)
    REFRESH_TOKEN_EXPIRE_DAYS: int = Field(default=14, ge=1, le=365)
    JWT_ISSUER: str = "relaypoint"
    JWT_AUDIENCE: str = "relaypoint-api"
    # HS256 signs with SECRET_KEY; EdDSA/Ed25519/RS256/ES256 sign with JWT_PRIVATE_KEY (PEM) and
    # publish the public key as a JWKS. In development an unset key is generated at start-up.
    JWT_ALGORITHM: str = "HS256"
    JWT_PRIVATE_KEY: str | None = Field(default=None, repr=False)
    JWT_KEY_ID: str | None = None
    REFRESH_TOKEN_REUSE_GRACE_SECONDS: float = Field(default=10.0, ge=0, le=300)
    ALLOWED_HOSTS: CsvList = Field(default_factory=lambda: ["*"])
    CORS_ORIGINS: CsvList = Field(default_factory=list)

    SENTRY_DSN: str | None = None
    PROMETHEUS_ENABLED: Flag = True

    ENABLE_RATE_LIMITING: Flag = True
    ENABLE_CACHING: Flag = True
    ENABLE_MULTI_TENANCY: Flag = True

    @field_validator("ENVIRONMENT")
    @classmethod
    def _normalise_environment(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def is_development(self) -> bool:
        return self.ENVIRONMENT in DEVELOPMENT_ENVIRONMENTS or self.DEBUG

    @model_validator(mode="after")
    def _require_signing_key(self) -> RelayPointSettings:
        algorithm = self.JWT_ALGORITHM.strip()
        if algorithm not in _JWT_ALGORITHMS:
            raise ValueError(
                f"JWT_ALGORITHM={algorithm!r} is not supported; use one of "
                + ", ".join(sorted(_JWT_ALGORITHMS))
            )
        if algorithm in _HMAC and not self.is_development and not self.SECRET_KEY:
            return self  # the SECRET_KEY check below says what to do
        if algorithm not in _HMAC and not self.JWT_PRIVATE_KEY and not self.is_development:
            raise ValueError(
                f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY (a PEM private key) outside "
                "development; generate one with `openssl genpkey -algorithm ed25519`"
            )
        return self

    @model_validator(mode="after")
    def _require_strong_secret(self) -> RelayPointSettings:
        if self.is_development:
            return self
        problem = secret_key_problem(self.SECRET_KEY)
        if problem is not None:
            raise ValueError(
                f"SECRET_KEY {problem} (ENVIRONMENT={self.ENVIRONMENT!r}). Generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"` and set it in '
                "the environment, or set ENVIRONMENT=development for local work."
            )
        return self


def secret_key_problem(secret: str | None) -> str | None:
    """Why ``secret`` is unfit to sign tokens in production, or ``None`` when it is fine."""
    if not secret:
        return "is not set"
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        return f"is too short ({len(secret)} characters; at least {MIN_SECRET_KEY_LENGTH} needed)"
    lowered = secret.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "looks like a placeholder from documentation"
    if _entropy_bits(secret) < MIN_SECRET_KEY_ENTROPY_BITS:
        return "is too predictable (too few distinct characters)"
    return None


def load_settings(**overrides: Any) -> RelayPointSettings:
    """Read settings from the environment, turning validation errors into `ConfigurationError`.

    Args:
        **overrides: Field values that win over the environment.

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: A variable is invalid; the message names it (see
            `relaypoint_core.environment.read_settings`).
    """
    return read_settings(RelayPointSettings, what="RelayPoint configuration", **overrides)


class DatabaseEnvironment(BaseSettings):
    """``DATABASE_URL`` alone, for code that needs the database but not the whole configuration."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", env_file=None, env_ignore_empty=True
    )

    DATABASE_URL: str = DEFAULT_DATABASE_URL


def configured_database_url() -> str:
    """``DATABASE_URL`` from the environment, else `DEFAULT_DATABASE_URL`.

    Returns:
        The database URL the packages and the migration command use by default.
    """
    return read_settings(DatabaseEnvironment, what="database configuration").DATABASE_URL
