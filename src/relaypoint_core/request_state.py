"""Where RelayPoint middlewares leave what they learned about a request, in the ASGI scope.

The auth middleware stores the authenticated `Principal`; the tenancy middleware stores the
`ResolvedTenant`. Other middlewares (rate limiting, metrics) read them without importing the
package that wrote them: this module is the contract between siblings.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from relaypoint_core.tenant_ids import TenantSlug

__all__ = [
    "PRINCIPAL_STATE_KEY",
    "TENANT_STATE_KEY",
    "Principal",
    "ResolvedTenant",
    "get_scope_principal",
    "get_scope_tenant",
    "set_scope_principal",
    "set_scope_tenant",
]

PRINCIPAL_STATE_KEY = "relaypoint.principal"
TENANT_STATE_KEY = "relaypoint.tenant"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who, in which tenant (its public slug), with which roles.

    ``kind`` says what authenticated: ``"user"`` (an access token) or ``"api_key"``; an API key's
    principal has its own ``user_id`` (``apikey:<key id>``, so rate limits and audit records count
    it apart from the person who created it), ``key_id``, and ``scopes``: the exact permissions
    it may use, which RBAC checks instead of roles. ``scopes=None`` means "whatever the roles
    allow".
    """

    user_id: str
    tenant_id: TenantSlug | None
    roles: tuple[str, ...] = ()
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    kind: str = "user"
    key_id: str | None = None
    scopes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ResolvedTenant:
    """The tenant a request was resolved to (its public slug), with the plan tier that bounds it."""

    tenant_id: TenantSlug
    plan_tier: str | None = None
    status: str = "active"


def _state(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] | None = scope.get("state")
    if state is None:
        state = {}
        scope["state"] = state
    return state


def set_scope_principal(scope: MutableMapping[str, Any], principal: Principal | None) -> None:
    _state(scope)[PRINCIPAL_STATE_KEY] = principal


def get_scope_principal(scope: MutableMapping[str, Any]) -> Principal | None:
    state = scope.get("state") or {}
    value = state.get(PRINCIPAL_STATE_KEY)
    return value if isinstance(value, Principal) else None


def set_scope_tenant(scope: MutableMapping[str, Any], tenant: ResolvedTenant | None) -> None:
    _state(scope)[TENANT_STATE_KEY] = tenant


def get_scope_tenant(scope: MutableMapping[str, Any]) -> ResolvedTenant | None:
    state = scope.get("state") or {}
    value = state.get(TENANT_STATE_KEY)
    return value if isinstance(value, ResolvedTenant) else None
