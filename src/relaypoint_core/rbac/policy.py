"""`RolePolicy`: a validated role table over any permission catalogue, precomputed once.

Each role lists the grants it adds and the roles it inherits from. A role holds its own grants plus
everything its ancestors in the ``inherits`` graph hold, so a role higher in the hierarchy always
holds at least what the roles below it hold. Platform roles granted at platform scope apply in
every tenant.

This module knows no particular permission or role: the seed's catalogue (``workflow:*``,
``super_admin`` ...) is a preset in `relaypoint_core.rbac.presets`, and an application extends it
(or starts from nothing) with `RolePolicy.extend`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from relaypoint_core.errors import ConfigurationError
from relaypoint_core.rbac.permissions import is_valid_grant, is_valid_permission, matches

__all__ = ["RolePolicy"]


class RolePolicy:
    """An immutable, validated role table with every role's effective grants precomputed."""

    __slots__ = (
        "_below",
        "_concrete",
        "_grants",
        "_inherits",
        "_patterns",
        "catalogue",
        "platform_roles",
    )

    def __init__(
        self,
        grants: Mapping[str, Iterable[str]],
        inherits: Mapping[str, Iterable[str]] | None = None,
        *,
        catalogue: Iterable[str] = (),
        platform_roles: Iterable[str] = (),
    ) -> None:
        """Validate the table and precompute every role's permissions.

        Args:
            grants: Each role's own grants: ``resource:action``, ``resource:*`` or ``*``.
            inherits: Each role's parents (it holds everything they hold).
            catalogue: The permissions the application checks. Every concrete grant is added to
                it; a role's permissions over the catalogue are precomputed, so checking one is
                a set lookup. A valid permission outside it is still answered, by matching the
                role's wildcard grants.
            platform_roles: Roles that apply in every tenant when granted at platform scope.

        Raises:
            ConfigurationError: A grant or permission is malformed, a role inherits an unknown
                role, or the hierarchy has a cycle.
        """
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
        known = {str(p) for p in catalogue}
        for permission in sorted(known):
            if not is_valid_permission(permission):
                raise ConfigurationError(
                    f"catalogue: {permission!r} is not a 'resource:action' permission"
                )
        known.update(g for gs in self._grants.values() for g in gs if is_valid_permission(g))
        self.catalogue = frozenset(known)
        self.platform_roles = frozenset(str(r) for r in platform_roles)
        self._below = {role: self._closure(role, ()) for role in self._grants}
        self._patterns: dict[str, frozenset[str]] = {
            role: frozenset(g for r in below for g in self._grants[r])
            for role, below in self._below.items()
        }
        # Expanded against the catalogue so the hot path is one set lookup.
        self._concrete: dict[str, frozenset[str]] = {
            role: frozenset(p for p in self.catalogue if any(matches(g, p) for g in patterns))
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
        """Every permission of the `catalogue` that ``role`` holds."""
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

    def extend(
        self,
        *,
        permissions: Iterable[str] = (),
        grants: Mapping[str, Iterable[str]] | None = None,
        inherits: Mapping[str, Iterable[str]] | None = None,
        platform_roles: Iterable[str] = (),
    ) -> RolePolicy:
        """A new policy: this one plus an application's permissions, roles and grants.

        Nothing is removed or replaced: ``grants`` of an existing role are added to its own (and
        so reach every role that inherits it), a role not yet known is created, ``inherits``
        adds parents, and ``permissions`` join the catalogue. This policy is unchanged.

        Args:
            permissions: New ``resource:action`` permissions (a new resource's actions, say).
            grants: Grants to add, by role.
            inherits: Parents to add, by role.
            platform_roles: Roles to add to the platform roles.

        Returns:
            The extended, validated policy.

        Raises:
            ConfigurationError: As the constructor does.
        """
        table = {role: list(own) for role, own in self._grants.items()}
        for role, extra in (grants or {}).items():
            own = table.setdefault(str(role), [])
            own.extend(g for g in (str(x) for x in extra) if g not in own)
        parents = {role: list(ps) for role, ps in self._inherits.items()}
        for role, extra in (inherits or {}).items():
            listed = parents.setdefault(str(role), [])
            listed.extend(p for p in (str(x) for x in extra) if p not in listed)
        return RolePolicy(
            table,
            parents,
            catalogue=[*self.catalogue, *(str(p) for p in permissions)],
            platform_roles=[*self.platform_roles, *(str(r) for r in platform_roles)],
        )
