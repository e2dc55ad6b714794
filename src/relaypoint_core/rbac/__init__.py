"""Role-based access control: roles, ``resource:action`` permissions, tenant-scoped grants."""

from __future__ import annotations

from relaypoint_core.rbac.checker import Decision, PermissionChecker, RoleGrant, grants_of
from relaypoint_core.rbac.permissions import WILDCARD, Permission, matches
from relaypoint_core.rbac.policy import DEFAULT_POLICY, ROLE_GRANTS, ROLE_INHERITS, RolePolicy
from relaypoint_core.rbac.roles import Role

__all__ = [
    "DEFAULT_POLICY",
    "ROLE_GRANTS",
    "ROLE_INHERITS",
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
