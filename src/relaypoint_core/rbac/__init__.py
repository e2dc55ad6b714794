"""Role-based access control: roles, ``resource:action`` permissions, tenant-scoped grants.

The kernel (`RolePolicy`, `PermissionChecker`, the permission grammar) knows no particular
permission; the seed's catalogue (`Permission`, `Role`, `ROLE_GRANTS`) is the preset in
`relaypoint_core.rbac.presets`, the default an application extends with `RolePolicy.extend`.
"""

from __future__ import annotations

from relaypoint_core.rbac.checker import Decision, PermissionChecker, RoleGrant, grants_of
from relaypoint_core.rbac.permissions import WILDCARD, Permission, matches
from relaypoint_core.rbac.policy import RolePolicy
from relaypoint_core.rbac.presets import (
    DEFAULT_POLICY,
    ROLE_GRANTS,
    ROLE_INHERITS,
    SEED_PERMISSIONS,
    SEED_POLICY,
)
from relaypoint_core.rbac.roles import Role

__all__ = [
    "DEFAULT_POLICY",
    "ROLE_GRANTS",
    "ROLE_INHERITS",
    "SEED_PERMISSIONS",
    "SEED_POLICY",
    "WILDCARD",
    "Decision",
    "Permission",
    "PermissionChecker",
    "Role",
    "RoleGrant",
    "RolePolicy",
    "grants_of",
    "matches",
]
