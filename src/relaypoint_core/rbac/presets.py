"""The seed's permission catalogue and role table, as a preset an application can extend.

`SEED_POLICY` (also `DEFAULT_POLICY`, what `PermissionChecker()` and `AuthService` use unless
given another) is built from the seed's vocabulary: the `Permission` enum (``workflow:*``,
``user:*``, ``billing:*`` ...), the seven roles of `Role`, `ROLE_GRANTS` and `ROLE_INHERITS`, with
``super_admin`` as the one platform role. Nothing in `RolePolicy` or `PermissionChecker` depends
on it: an application with other resources extends the preset without editing the SDK::

    policy = DEFAULT_POLICY.extend(
        permissions=["report:read", "report:export"],
        grants={"viewer": ["report:read"], "auditor": ["report:*", "audit_log:read"]},
        inherits={"auditor": ["viewer"]},
    )
    service = AuthService(..., checker=PermissionChecker(policy))

or builds its own table from scratch with `RolePolicy(grants, inherits, catalogue=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from relaypoint_core.rbac.permissions import WILDCARD, Permission
from relaypoint_core.rbac.policy import RolePolicy
from relaypoint_core.rbac.roles import Role

__all__ = [
    "DEFAULT_POLICY",
    "ROLE_GRANTS",
    "ROLE_INHERITS",
    "SEED_PERMISSIONS",
    "SEED_PLATFORM_ROLES",
    "SEED_POLICY",
    "seed_policy",
]

P = Permission

SEED_PERMISSIONS: frozenset[str] = frozenset(p.value for p in Permission)
"""Every permission of the seed's catalogue (the values of `Permission`)."""

SEED_PLATFORM_ROLES: frozenset[str] = frozenset({Role.SUPER_ADMIN.value})
"""The seed's platform role: ``super_admin`` granted at platform scope applies in every tenant."""

ROLE_GRANTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        Role.VIEWER: (P.WORKFLOW_READ, P.TEAM_READ, P.ANALYTICS_READ, P.BRANDING_READ),
        Role.USER: (P.WORKFLOW_CREATE, P.WORKFLOW_UPDATE, P.WORKFLOW_EXECUTE, P.USER_READ),
        Role.TEAM_LEAD: (P.WORKFLOW_DELETE, P.TEAM_MANAGE, P.ANALYTICS_EXPORT),
        Role.MANAGER: (
            P.USER_INVITE,
            P.USER_UPDATE,
            P.TENANT_SETTINGS_READ,
            P.BILLING_READ,
            P.AUDIT_LOG_READ,
            P.API_KEY_READ,
        ),
        Role.API_USER: (P.WORKFLOW_READ, P.WORKFLOW_CREATE, P.WORKFLOW_EXECUTE),
        Role.TENANT_ADMIN: (
            "workflow:*",
            "user:*",
            "team:*",
            "tenant_settings:*",
            "branding:*",
            "billing:*",
            "analytics:*",
            "audit_log:*",
            "api_key:*",
            P.ADMIN_ACCESS,
        ),
        Role.SUPER_ADMIN: (WILDCARD,),
    }
)
"""The seed's grants of each role (its own, not inherited)."""

ROLE_INHERITS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        Role.VIEWER: (),
        Role.USER: (Role.VIEWER,),
        Role.TEAM_LEAD: (Role.USER,),
        Role.MANAGER: (Role.TEAM_LEAD,),
        Role.API_USER: (),
        Role.TENANT_ADMIN: (Role.MANAGER, Role.API_USER),
        Role.SUPER_ADMIN: (Role.TENANT_ADMIN,),
    }
)
"""The seed's role hierarchy: each role's parents."""


def seed_policy() -> RolePolicy:
    """A fresh `RolePolicy` of the seed's catalogue, roles, grants and platform role.

    Returns:
        The policy `SEED_POLICY` holds (a new, equal instance).
    """
    return RolePolicy(
        ROLE_GRANTS,
        ROLE_INHERITS,
        catalogue=SEED_PERMISSIONS,
        platform_roles=SEED_PLATFORM_ROLES,
    )


SEED_POLICY = seed_policy()
"""The seed's preset (extend it with `RolePolicy.extend`)."""
DEFAULT_POLICY = SEED_POLICY
"""The policy `PermissionChecker()` uses when given none: the seed's preset."""
