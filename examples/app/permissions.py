"""The permission dependencies of the app's routes, built with ``relaypoint_core.fastapi.require``
(``RequireWorkflowCreate`` and ``RequireAdminAccess`` are the package's own, as in the seed)."""

from __future__ import annotations

from relaypoint_core.fastapi import RequireAdminAccess, RequireWorkflowCreate, require
from relaypoint_core.rbac import Permission

__all__ = [
    "RequireAdminAccess",
    "RequireAnalyticsRead",
    "RequireAuditLogRead",
    "RequireBillingManage",
    "RequireBillingRead",
    "RequireBrandingRead",
    "RequireBrandingUpdate",
    "RequirePlatformTenantsManage",
    "RequireTenantSettingsRead",
    "RequireWorkflowCreate",
    "RequireWorkflowDelete",
    "RequireWorkflowExecute",
    "RequireWorkflowRead",
    "RequireWorkflowUpdate",
]

RequireWorkflowRead = require(Permission.WORKFLOW_READ)
RequireWorkflowUpdate = require(Permission.WORKFLOW_UPDATE)
RequireWorkflowDelete = require(Permission.WORKFLOW_DELETE)
RequireWorkflowExecute = require(Permission.WORKFLOW_EXECUTE)
RequireTenantSettingsRead = require(Permission.TENANT_SETTINGS_READ)
RequireBrandingRead = require(Permission.BRANDING_READ)
RequireBrandingUpdate = require(Permission.BRANDING_UPDATE)
RequireBillingRead = require(Permission.BILLING_READ)
RequireBillingManage = require(Permission.BILLING_MANAGE)
RequireAnalyticsRead = require(Permission.ANALYTICS_READ)
RequireAuditLogRead = require(Permission.AUDIT_LOG_READ)
RequirePlatformTenantsManage = require(Permission.PLATFORM_TENANTS_MANAGE)
