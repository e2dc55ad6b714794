"""The role -> permission table and the role hierarchy, precomputed once.

Each role lists the grants it adds and the roles it inherits from. A role holds its own grants plus
everything its ancestors in the ``inherits`` graph hold, so a role higher in the hierarchy always
holds at least what the roles below it hold. Platform roles (``super_admin``) apply in every tenant
when granted at platform scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from relaypoint_core.errors import ConfigurationError
from relaypoint_core.rbac.permissions import WILDCARD, Permission, is_valid_grant, matches
from relaypoint_core.rbac.roles import Role

__all__ = ["DEFAULT_POLICY", "ROLE_GRANTS", "ROLE_INHERITS", "RolePolicy"]

P = Permission

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


class RolePolicy:
    """An immutable, validated role table with every role's effective grants precomputed."""

    __slots__ = ("_below", "_concrete", "_grants", "_inherits", "_patterns", "platform_roles")

    def __init__(
        self,
        grants: Mapping[str, Iterable[str]],
        inherits: Mapping[str, Iterable[str]] | None = None,
        *,
        platform_roles: Iterable[str] = (Role.SUPER_ADMIN,),
    ) -> None:
        inherits = inherits or {}
        self._grants = {str(role): tuple(str(g) for g in gs) for role, gs in grants.items()}
        self._inherits = {str(role): tuple(str(p) for p in ps) for role, ps in inherits.items()}
        for role, parents in self._inherits.items():
            self._grants.setdefault(role, ())
            for parent in parents:
                if parent not in self._grants and parent not in self._inherits:
                    raise ConfigurationError(f"role {role!r} inherits unknown role {parent!r}")
                self._grants.setdefault(parent, ())
        for role, role_grants in self._grants.items():
            for grant in role_grants:
                if not is_valid_grant(grant):
                    raise ConfigurationError(
                        f"role {role!r}: grant {grant!r} is not 'resource:action', "
                        "'resource:*' or '*'"
                    )
        self.platform_roles = frozenset(str(r) for r in platform_roles)
        self._below = {role: self._closure(role, ()) for role in self._grants}
        self._patterns: dict[str, frozenset[str]] = {
            role: frozenset(g for r in below for g in self._grants[r])
            for role, below in self._below.items()
        }
        # Expanded against the known permissions so the hot path is one set lookup.
        self._concrete: dict[str, frozenset[str]] = {
            role: frozenset(p.value for p in Permission if any(matches(g, p) for g in patterns))
            for role, patterns in self._patterns.items()
        }

    def _closure(self, role: str, path: tuple[str, ...]) -> frozenset[str]:
        if role in path:
            cycle = " -> ".join((*path, role))
            raise ConfigurationError(f"role hierarchy has a cycle: {cycle}")
        result = {role}
        for parent in self._inherits.get(role, ()):
            result |= self._closure(parent, (*path, role))
        return frozenset(result)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._grants)

    def own_grants(self, role: str) -> tuple[str, ...]:
        """The grants listed for ``role`` itself (not inherited)."""
        return self._grants.get(role, ())

    def inherits(self, role: str) -> tuple[str, ...]:
        return self._inherits.get(role, ())

    def roles_included(self, role: str) -> frozenset[str]:
        """``role`` and every role below it whose grants it inherits."""
        return self._below.get(role, frozenset())

    def roles_above(self, role: str) -> frozenset[str]:
        """Every role that inherits ``role``, directly or transitively (not ``role`` itself)."""
        return frozenset(r for r, below in self._below.items() if role in below and r != role)

    def grant_patterns(self, role: str) -> frozenset[str]:
        """Every grant (with wildcards) ``role`` holds, inherited ones included."""
        return self._patterns.get(role, frozenset())

    def permissions(self, role: str) -> frozenset[str]:
        """Every known `Permission` value ``role`` holds."""
        return self._concrete.get(role, frozenset())

    def is_known(self, role: str) -> bool:
        return role in self._grants

    def role_holds(self, role: str, permission: str) -> bool:
        """Whether ``role`` holds ``permission`` (any ``resource:action`` string)."""
        concrete = self._concrete.get(role)
        if concrete is None:
            return False
        if permission in concrete:
            return True
        return any(matches(g, permission) for g in self._patterns[role])

    def source_of(self, role: str, permission: str) -> tuple[str, str] | None:
        """Which (role, grant) in ``role``'s closure covers ``permission``, for explanations."""
        for included in sorted(self._below.get(role, ()), key=lambda r: r != role):
            for grant in self._grants[included]:
                if matches(grant, permission):
                    return included, grant
        return None


DEFAULT_POLICY = RolePolicy(ROLE_GRANTS, ROLE_INHERITS)
