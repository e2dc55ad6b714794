"""relaypoint_core: configuration, errors, tenant context, keys, clocks and shared plumbing.

Auth, RBAC, audit and monitoring live in their own subpackages (``relaypoint_core.auth``,
``relaypoint_core.rbac``, ``relaypoint_core.audit``, ``relaypoint_core.monitoring``). This module
imports no web framework and no optional dependency.
"""

from __future__ import annotations

from relaypoint_core.backend_url import BackendURL, parse_backend_url
from relaypoint_core.circuit import CircuitBreaker, CircuitState
from relaypoint_core.clock import Clock, SystemClock, system_clock
from relaypoint_core.config import RelayPointSettings, load_settings
from relaypoint_core.deadlines import DeadlineWatch
from relaypoint_core.errors import (
    AuthenticationError,
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidTenantIdError,
    MissingExtraError,
    NoTenantError,
    RelayPointError,
    TokenExpiredError,
    TokenInvalidError,
    TokenReuseError,
    TokenRevokedError,
)
from relaypoint_core.keys import DEFAULT_KEY_PREFIX, KeyScheme, escape_glob, escape_key_part
from relaypoint_core.message_limits import MessageLimiter, MessageVerdict
from relaypoint_core.plan_tiers import PlanTierSource, StaticPlanTiers
from relaypoint_core.request_state import (
    Principal,
    ResolvedTenant,
    get_scope_principal,
    get_scope_tenant,
    set_scope_principal,
    set_scope_tenant,
)
from relaypoint_core.stack import MiddlewareOrderError
from relaypoint_core.tenant_context import (
    current_tenant,
    get_current_tenant,
    reset_current_tenant,
    set_current_tenant,
    tenant_scope,
    validate_tenant_id,
)
from relaypoint_core.tenant_ids import TenantSlug, TenantUUID

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "AuthenticationError",
    "AuthorizationError",
    "BackendURL",
    "BackendUnavailableError",
    "CircuitBreaker",
    "CircuitState",
    "Clock",
    "ConfigurationError",
    "DeadlineWatch",
    "InvalidTenantIdError",
    "KeyScheme",
    "MessageLimiter",
    "MessageVerdict",
    "MiddlewareOrderError",
    "MissingExtraError",
    "NoTenantError",
    "PlanTierSource",
    "Principal",
    "RelayPointError",
    "RelayPointSettings",
    "ResolvedTenant",
    "StaticPlanTiers",
    "SystemClock",
    "TenantSlug",
    "TenantUUID",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenReuseError",
    "TokenRevokedError",
    "current_tenant",
    "escape_glob",
    "escape_key_part",
    "get_current_tenant",
    "get_scope_principal",
    "get_scope_tenant",
    "load_settings",
    "parse_backend_url",
    "reset_current_tenant",
    "set_current_tenant",
    "set_scope_principal",
    "set_scope_tenant",
    "system_clock",
    "tenant_scope",
    "validate_tenant_id",
]

__version__ = "0.1.0"
