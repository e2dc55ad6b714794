"""Isolation strategies, chosen by configuration: ``shared``, ``schema`` or ``database``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.strategies.base import (
    ALL_TENANTS_OPTION,
    IsolationKind,
    IsolationStrategy,
    TenantIsolationError,
    TenantPlane,
    TenantRef,
    TenantSession,
)
from relaypoint_tenancy.strategies.database import DatabasePerTenantStrategy
from relaypoint_tenancy.strategies.schema import SchemaPerTenantStrategy
from relaypoint_tenancy.strategies.shared import SharedTableStrategy

__all__ = [
    "ALL_TENANTS_OPTION",
    "DatabasePerTenantStrategy",
    "IsolationKind",
    "IsolationStrategy",
    "SchemaPerTenantStrategy",
    "SharedTableStrategy",
    "TenantIsolationError",
    "TenantPlane",
    "TenantRef",
    "TenantSession",
    "create_strategy",
    "default_strategy",
]

_KINDS: dict[str, type[IsolationStrategy]] = {
    "shared": SharedTableStrategy,
    "schema": SchemaPerTenantStrategy,
    "database": DatabasePerTenantStrategy,
}


def create_strategy(kind: str, engine: AsyncEngine, **options: Any) -> IsolationStrategy:
    """Build the strategy named ``kind`` (``shared``, ``schema``, ``database``) on ``engine``."""
    try:
        cls = _KINDS[kind]
    except KeyError:
        raise TenancyConfigurationError(
            f"unknown tenancy strategy {kind!r}; choose one of: {', '.join(_KINDS)}"
        ) from None
    try:
        return cls(engine, **options)
    except TypeError as exc:
        raise TenancyConfigurationError(f"invalid options for strategy {kind!r}: {exc}") from exc


def default_strategy(engine: AsyncEngine) -> IsolationStrategy:
    """Schema-per-tenant on PostgreSQL, shared tables elsewhere (SQLite, the embedded default)."""
    if engine.dialect.name == "postgresql":
        return SchemaPerTenantStrategy(engine)
    return SharedTableStrategy(engine)
