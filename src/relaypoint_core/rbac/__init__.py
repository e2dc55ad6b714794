"""Role-based access control: roles, permissions and the checker."""

from __future__ import annotations

from relaypoint_core.rbac.permissions import Permission
from relaypoint_core.rbac.roles import Role

__all__ = ["Permission", "Role"]
