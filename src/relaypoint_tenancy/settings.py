"""`TenancySettings`: the ``TENANCY_*`` environment variables, and the async database URL.

Kept apart from `relaypoint_tenancy.service`, which builds a `Tenancy` from them; both names are
also importable from there and from `relaypoint_tenancy`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relaypoint_core.config import DEFAULT_DATABASE_URL
from relaypoint_core.environment import Flag, read_settings, split_csv
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.resolution import DEFAULT_SOURCES, Source

__all__ = ["TenancySettings", "async_database_url"]


def async_database_url(url: str) -> str:
    """Add the async driver to plain ``postgresql://`` and ``sqlite://`` URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class TenancySettings(BaseSettings):
    """The ``TENANCY_*`` variables (and ``DATABASE_URL``, shared with core; one default there).

    Build it with `load` to get a `TenancyConfigurationError` naming a bad variable.
    """

    model_config = SettingsConfigDict(env_prefix="TENANCY_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
    )
    strategy: Literal["shared", "schema", "database"] | None = None
    row_level_security: Flag = False
    rls_role: str = "relaypoint_tenant"
    schema_prefix: str = "tenant_"
    database_prefix: str = "rp_tenant_"
    max_tenant_engines: int = Field(default=32, ge=1)
    tenant_pool_size: int = Field(default=2, ge=1)
    base_domain: str | None = None
    resolution_order: Annotated[tuple[Source, ...], NoDecode, BeforeValidator(split_csv)] = (
        DEFAULT_SOURCES
    )
    resolution_cache_ttl: float = Field(default=30.0, ge=0)
    tenant_cache_ttl: float = Field(default=5.0, ge=0)
    # Seconds an expired tenant snapshot (directory and resolver) is still served while one
    # background task reloads it; 0 reloads it on the request that finds it expired.
    cache_stale_ttl: float = Field(default=0.0, ge=0)

    @classmethod
    def load(cls, **overrides: Any) -> TenancySettings:
        """Read the environment (``overrides`` win) or fail naming the variable.

        Raises:
            TenancyConfigurationError: A variable does not parse or is out of range.
        """
        return read_settings(
            cls, what="tenancy configuration", error=TenancyConfigurationError, **overrides
        )
