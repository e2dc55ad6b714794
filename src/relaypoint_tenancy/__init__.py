"""relaypoint_tenancy: tenants, isolation strategies, resolution, quotas, trials and migrations.

``import relaypoint_tenancy`` stays light: names that need SQLAlchemy (the manager, models,
strategies) are imported on first use, so a bare install can still import the package and read
plan tiers or validate slugs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from relaypoint_tenancy.branding import BrandingConfig, validate_branding
from relaypoint_tenancy.errors import (
    BrandingValidationError,
    ConcurrentUpdateError,
    DomainError,
    InvalidSlugError,
    MigrationError,
    PlanChangeDeniedError,
    QuotaExceeded,
    TenancyConfigurationError,
    TenancyError,
    TenantExistsError,
    TenantMismatchError,
    TenantNotFoundError,
    TenantSuspendedError,
)
from relaypoint_tenancy.plan_policy import BillingHook, PlanChange, PlanChangePolicy
from relaypoint_tenancy.plans import (
    DEFAULT_PLAN_CATALOG,
    PlanCatalog,
    PlanLimits,
    PlanTier,
    QuotaPeriod,
    Resource,
    TenantStatus,
)
from relaypoint_tenancy.validation import schema_name_for, validate_identifier, validate_slug

if TYPE_CHECKING:
    from relaypoint_tenancy.asgi import TenantResolutionMiddleware
    from relaypoint_tenancy.audit import TenantAuditLog
    from relaypoint_tenancy.directory import TenantDirectory
    from relaypoint_tenancy.manager import TenantManager
    from relaypoint_tenancy.migrate import MigrationReport, migrate_all
    from relaypoint_tenancy.records import DomainInfo, TenantInfo, TransitionReport, UsageInfo
    from relaypoint_tenancy.resolution import SqlTenantLookup, TenantRecord, TenantResolver
    from relaypoint_tenancy.service import Tenancy, TenancySettings
    from relaypoint_tenancy.snapshots import SnapshotCache
    from relaypoint_tenancy.strategies import (
        DatabasePerTenantStrategy,
        IsolationStrategy,
        SchemaPerTenantStrategy,
        SharedTableStrategy,
        TenantIsolationError,
        TenantRef,
        create_strategy,
    )
    from relaypoint_tenancy.users import SqlUserDirectory
    from relaypoint_tenancy.writes import atomic_update, delete_once

__all__ = [
    "DEFAULT_PLAN_CATALOG",
    "BillingHook",
    "BrandingConfig",
    "BrandingValidationError",
    "ConcurrentUpdateError",
    "DatabasePerTenantStrategy",
    "DomainError",
    "DomainInfo",
    "InvalidSlugError",
    "IsolationStrategy",
    "MigrationError",
    "MigrationReport",
    "PlanCatalog",
    "PlanChange",
    "PlanChangeDeniedError",
    "PlanChangePolicy",
    "PlanLimits",
    "PlanTier",
    "QuotaExceeded",
    "QuotaPeriod",
    "Resource",
    "SchemaPerTenantStrategy",
    "SharedTableStrategy",
    "SnapshotCache",
    "SqlTenantLookup",
    "SqlUserDirectory",
    "Tenancy",
    "TenancyConfigurationError",
    "TenancyError",
    "TenancySettings",
    "TenantAuditLog",
    "TenantDirectory",
    "TenantExistsError",
    "TenantInfo",
    "TenantIsolationError",
    "TenantManager",
    "TenantMismatchError",
    "TenantNotFoundError",
    "TenantRecord",
    "TenantRef",
    "TenantResolutionMiddleware",
    "TenantResolver",
    "TenantStatus",
    "TenantSuspendedError",
    "TransitionReport",
    "UsageInfo",
    "atomic_update",
    "create_strategy",
    "delete_once",
    "migrate_all",
    "schema_name_for",
    "validate_branding",
    "validate_identifier",
    "validate_slug",
]

_LAZY = {
    "TenantResolutionMiddleware": "relaypoint_tenancy.asgi",
    "TenantAuditLog": "relaypoint_tenancy.audit",
    "TenantDirectory": "relaypoint_tenancy.directory",
    "TenantManager": "relaypoint_tenancy.manager",
    "MigrationReport": "relaypoint_tenancy.migrate",
    "migrate_all": "relaypoint_tenancy.migrate",
    "DomainInfo": "relaypoint_tenancy.records",
    "TenantInfo": "relaypoint_tenancy.records",
    "TransitionReport": "relaypoint_tenancy.records",
    "UsageInfo": "relaypoint_tenancy.records",
    "SqlTenantLookup": "relaypoint_tenancy.resolution",
    "TenantRecord": "relaypoint_tenancy.resolution",
    "TenantResolver": "relaypoint_tenancy.resolution",
    "SnapshotCache": "relaypoint_tenancy.snapshots",
    "Tenancy": "relaypoint_tenancy.service",
    "TenancySettings": "relaypoint_tenancy.service",
    "DatabasePerTenantStrategy": "relaypoint_tenancy.strategies",
    "IsolationStrategy": "relaypoint_tenancy.strategies",
    "SchemaPerTenantStrategy": "relaypoint_tenancy.strategies",
    "SharedTableStrategy": "relaypoint_tenancy.strategies",
    "TenantIsolationError": "relaypoint_tenancy.strategies",
    "TenantRef": "relaypoint_tenancy.strategies",
    "create_strategy": "relaypoint_tenancy.strategies",
    "SqlUserDirectory": "relaypoint_tenancy.users",
    "atomic_update": "relaypoint_tenancy.writes",
    "delete_once": "relaypoint_tenancy.writes",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'relaypoint_tenancy' has no attribute {name!r}")
    from relaypoint_core.optional import database_extra, require_module

    extra, alternatives = database_extra()
    for dependency in ("sqlalchemy", "alembic"):
        require_module(
            dependency,
            extra=extra,
            feature=f"relaypoint_tenancy.{name}",
            alternatives=alternatives,
        )
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
