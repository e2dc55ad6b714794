"""The seven platform roles, from most to least privileged."""

from __future__ import annotations

import enum

__all__ = ["Role"]


class Role(enum.StrEnum):
    SUPER_ADMIN = "super_admin"
    TENANT_ADMIN = "tenant_admin"
    MANAGER = "manager"
    TEAM_LEAD = "team_lead"
    USER = "user"
    VIEWER = "viewer"
    API_USER = "api_user"
