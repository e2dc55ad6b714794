"""Permissions are ``resource:action`` strings; grants may use ``resource:*`` or ``*`` wildcards."""

from __future__ import annotations

import enum
import re

__all__ = [
    "WILDCARD",
    "Permission",
    "is_valid_grant",
    "is_valid_permission",
    "matches",
    "resource_of",
]

WILDCARD = "*"
_PERMISSION = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*")
_GRANT = re.compile(r"\*|[a-z][a-z0-9_]*:(\*|[a-z][a-z0-9_]*)")


class Permission(enum.StrEnum):
    """The seed's permissions, as ``resource:action`` (the catalogue of the seed's preset).

    Not a closed list: `RolePolicy` and `PermissionChecker` take any ``resource:action`` string,
    and an application adds its own with `RolePolicy.extend` (see `relaypoint_core.rbac.presets`).
    """

    WORKFLOW_CREATE = "workflow:create"
    WORKFLOW_READ = "workflow:read"
    WORKFLOW_UPDATE = "workflow:update"
    WORKFLOW_DELETE = "workflow:delete"
    WORKFLOW_EXECUTE = "workflow:execute"

    USER_INVITE = "user:invite"
    USER_READ = "user:read"
    USER_UPDATE = "user:update"
    USER_DELETE = "user:delete"
    USER_MANAGE_ROLES = "user:manage_roles"

    TEAM_READ = "team:read"
    TEAM_MANAGE = "team:manage"

    TENANT_SETTINGS_READ = "tenant_settings:read"
    TENANT_SETTINGS_UPDATE = "tenant_settings:update"
    BRANDING_READ = "branding:read"
    BRANDING_UPDATE = "branding:update"

    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"

    ANALYTICS_READ = "analytics:read"
    ANALYTICS_EXPORT = "analytics:export"

    AUDIT_LOG_READ = "audit_log:read"
    AUDIT_LOG_EXPORT = "audit_log:export"

    API_KEY_CREATE = "api_key:create"
    API_KEY_READ = "api_key:read"
    API_KEY_REVOKE = "api_key:revoke"

    ADMIN_ACCESS = "admin:access"

    PLATFORM_TENANTS_MANAGE = "platform:manage_tenants"
    PLATFORM_SETTINGS_MANAGE = "platform:manage_settings"

    @property
    def resource(self) -> str:
        return self.value.partition(":")[0]

    @property
    def action(self) -> str:
        return self.value.partition(":")[2]


def resource_of(permission: str) -> str:
    """The resource part of ``resource:action``."""
    return permission.partition(":")[0]


def is_valid_permission(permission: str) -> bool:
    return _PERMISSION.fullmatch(permission) is not None


def is_valid_grant(grant: str) -> bool:
    """A grant is a permission, ``resource:*`` or ``*``."""
    return _GRANT.fullmatch(grant) is not None


def matches(grant: str, permission: str) -> bool:
    """Whether ``grant`` (possibly a wildcard) covers ``permission``."""
    if grant in (WILDCARD, permission):
        return True
    resource, _, action = grant.partition(":")
    return action == WILDCARD and resource_of(permission) == resource
