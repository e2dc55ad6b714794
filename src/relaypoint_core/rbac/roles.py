"""The seed's seven roles, from most to least privileged (the roles of the seed's preset)."""

from __future__ import annotations

import enum

__all__ = ["Role"]


class Role(enum.StrEnum):
    """The seed preset's role names; a `RolePolicy` may define any other role as a string."""

    SUPER_ADMIN = "super_admin"
    TENANT_ADMIN = "tenant_admin"
    MANAGER = "manager"
    TEAM_LEAD = "team_lead"
    USER = "user"
    VIEWER = "viewer"
    API_USER = "api_user"
