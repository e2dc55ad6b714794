"""The framework-free permission check, with tenant-scoped role grants and explanations.

Roles are granted *in a tenant*: ``RoleGrant("manager", "acme")`` lets its holder act as manager in
``acme`` and nowhere else. Platform roles (``super_admin``) granted at platform scope
(``tenant_id=None``) apply in every tenant. The hot path (`PermissionChecker.has_permission`)
is a dict lookup of the precomputed union of the roles' permissions plus one set membership test.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from relaypoint_core.errors import AuthorizationError
from relaypoint_core.rbac.permissions import is_valid_permission
from relaypoint_core.rbac.policy import RolePolicy
from relaypoint_core.rbac.presets import DEFAULT_POLICY
from relaypoint_core.request_state import Principal

__all__ = ["Decision", "PermissionChecker", "RoleGrant", "grants_of"]


class _Unset(enum.Enum):
    TOKEN = enum.auto()


_UNSET = _Unset.TOKEN
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """``role`` granted in ``tenant_id`` (``None``: at platform scope)."""

    role: str
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a check and why; truthy when allowed."""

    allowed: bool
    permission: str
    tenant_id: str | None
    reason: str
    role: str | None = None
    grant: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def grants_of(principal: Principal) -> tuple[RoleGrant, ...]:
    """A principal's roles, each granted in the principal's tenant."""
    return tuple(RoleGrant(role, principal.tenant_id) for role in principal.roles)


class PermissionChecker:
    """Answers "may these roles do this, in this tenant?" from a `RolePolicy`.

    Any ``resource:action`` string can be checked, not only the seed's `Permission` values: a
    permission of the policy's catalogue is a set lookup, any other valid one is matched against
    the roles' wildcard grants. The default policy is the seed's preset
    (`relaypoint_core.rbac.presets.DEFAULT_POLICY`).
    """

    __slots__ = ("_known", "_union_cache", "policy")

    def __init__(self, policy: RolePolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self._known = policy.catalogue
        self._union_cache: dict[tuple[str, ...], frozenset[str]] = {}

    # --- roles that apply in the context being checked -------------------------------------------

    def _union(self, roles: tuple[str, ...]) -> frozenset[str]:
        cached = self._union_cache.get(roles)
        if cached is None:
            merged: set[str] = set()
            for role in roles:
                merged |= self.policy.permissions(role)
            cached = frozenset(merged)
            if len(self._union_cache) >= _CACHE_LIMIT:
                self._union_cache.clear()
            self._union_cache[roles] = cached
        return cached

    def has_permission(self, roles: Iterable[str], permission: str) -> bool:
        """Whether any of ``roles`` (all granted in the context being checked) holds ``permission``."""
        key = roles if isinstance(roles, tuple) else tuple(roles)
        if permission in self._union(key):
            return True
        if permission in self._known:  # the precomputed sets are complete for the catalogue
            return False
        # Permissions outside the catalogue can still be covered by a wildcard grant, but a
        # string that is not 'resource:action' is refused here exactly as explain() refuses it.
        if not is_valid_permission(permission):
            return False
        return any(self.policy.role_holds(role, permission) for role in key)

    def roles_in(self, grants: Iterable[RoleGrant], tenant_id: str | None) -> tuple[str, ...]:
        """The roles of ``grants`` that apply in ``tenant_id``."""
        platform = self.policy.platform_roles
        return tuple(
            [
                g.role
                for g in grants
                if g.tenant_id == tenant_id or (g.tenant_id is None and g.role in platform)
            ]
        )

    def check(self, grants: Iterable[RoleGrant], permission: str, *, tenant_id: str | None) -> bool:
        """Whether ``grants`` allow ``permission`` in ``tenant_id``."""
        return self.has_permission(self.roles_in(grants, tenant_id), permission)

    def check_principal(
        self, principal: Principal, permission: str, *, tenant_id: str | _Unset | None = _UNSET
    ) -> bool:
        """Whether ``principal`` may do ``permission`` in ``tenant_id`` (default: its own tenant).

        A principal with ``scopes`` (an API key) may use exactly those permissions, only in its
        own tenant.
        """
        if principal.scopes is not None:
            same_tenant = isinstance(tenant_id, _Unset) or tenant_id == principal.tenant_id
            return same_tenant and str(permission) in principal.scopes
        if isinstance(tenant_id, _Unset) or tenant_id == principal.tenant_id:
            return self.has_permission(principal.roles, permission)
        return self.check(grants_of(principal), permission, tenant_id=tenant_id)

    # --- explanations and enforcement ----------------------------------------------------------

    def explain(
        self, grants: Iterable[RoleGrant], permission: str, *, tenant_id: str | None
    ) -> Decision:
        """Decide like `check` and say why, naming the role and grant that matched."""
        grants = tuple(grants)
        permission = str(permission)
        where = "platform scope" if tenant_id is None else f"tenant {tenant_id!r}"
        if not is_valid_permission(str(permission)):
            return Decision(
                False, permission, tenant_id, f"{permission!r} is not a 'resource:action' string"
            )
        applicable = self.roles_in(grants, tenant_id)
        for role in applicable:
            source = self.policy.source_of(role, permission)
            if source is not None:
                via, grant = source
                how = f"role {role!r}" if via == role else f"role {role!r} (inherits {via!r})"
                scope = (
                    "platform-wide"
                    if role in self.policy.platform_roles and tenant_id is not None
                    else f"in {where}"
                )
                return Decision(
                    True,
                    permission,
                    tenant_id,
                    f"allowed: {how} granted {scope} holds {grant!r}",
                    role=role,
                    grant=grant,
                )
        unknown = sorted({g.role for g in grants if not self.policy.is_known(g.role)})
        elsewhere = sorted({f"{g.role}@{g.tenant_id}" for g in grants if g.role not in applicable})
        parts = [f"denied: no role granted in {where} holds {permission!r}"]
        if applicable:
            parts.append(f"roles considered: {', '.join(sorted(set(applicable)))}")
        else:
            parts.append("no role is granted there")
        if elsewhere:
            parts.append(f"grants in other scopes do not apply: {', '.join(elsewhere)}")
        if unknown:
            parts.append(f"unknown roles grant nothing: {', '.join(unknown)}")
        return Decision(False, permission, tenant_id, "; ".join(parts))

    def explain_principal(
        self, principal: Principal, permission: str, *, tenant_id: str | _Unset | None = _UNSET
    ) -> Decision:
        target = principal.tenant_id if isinstance(tenant_id, _Unset) else tenant_id
        if principal.scopes is not None:
            if target != principal.tenant_id:
                reason = f"denied: API key {principal.key_id!r} works only in its own tenant"
                return Decision(False, str(permission), target, reason)
            if str(permission) in principal.scopes:
                return Decision(True, str(permission), target, "allowed: in the API key's scope")
            return Decision(
                False,
                str(permission),
                target,
                f"denied: {str(permission)!r} is not in the scope of API key {principal.key_id!r}",
            )
        return self.explain(grants_of(principal), permission, tenant_id=target)

    def require(
        self, grants: Iterable[RoleGrant], permission: str, *, tenant_id: str | None
    ) -> Decision:
        """Return the allowing `Decision` or raise `AuthorizationError`."""
        decision = self.explain(grants, permission, tenant_id=tenant_id)
        if not decision.allowed:
            raise AuthorizationError(f"permission {permission!r} required; {decision.reason}")
        return decision
