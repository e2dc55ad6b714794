"""RBAC: the role table, hierarchy, tenant scoping, wildcards and explanations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypoint_core.auth import AuthService
from relaypoint_core.errors import AuthorizationError, ConfigurationError
from relaypoint_core.rbac import (
    DEFAULT_POLICY,
    Permission,
    PermissionChecker,
    Role,
    RoleGrant,
    RolePolicy,
)
from relaypoint_core.request_state import Principal

checker = PermissionChecker()
ROLES = [r.value for r in Role]
PERMISSIONS = [p.value for p in Permission]
tenants = st.sampled_from(["acme", "globex", "initech", None])
grant_lists = st.lists(st.builds(RoleGrant, st.sampled_from(ROLES), tenants), max_size=6)


def test_seed_example() -> None:
    assert AuthService.validate_permissions(
        user_roles=["manager"], required_permission=Permission.WORKFLOW_CREATE
    )
    assert not AuthService.validate_permissions(
        user_roles=["viewer"], required_permission=Permission.WORKFLOW_CREATE
    )
    assert not AuthService.validate_permissions(
        user_roles=[], required_permission=Permission.WORKFLOW_READ
    )


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        (Role.VIEWER, (Permission.WORKFLOW_READ,), (Permission.WORKFLOW_CREATE,)),
        (Role.USER, (Permission.WORKFLOW_EXECUTE,), (Permission.WORKFLOW_DELETE,)),
        (Role.TEAM_LEAD, (Permission.TEAM_MANAGE,), (Permission.USER_INVITE,)),
        (Role.MANAGER, (Permission.AUDIT_LOG_READ,), (Permission.BILLING_MANAGE,)),
        (Role.API_USER, (Permission.WORKFLOW_EXECUTE,), (Permission.USER_READ,)),
        (Role.TENANT_ADMIN, (Permission.BILLING_MANAGE,), (Permission.PLATFORM_TENANTS_MANAGE,)),
        (Role.SUPER_ADMIN, tuple(Permission), ()),
    ],
)
def test_role_table(
    role: Role, allowed: tuple[Permission, ...], denied: tuple[Permission, ...]
) -> None:
    for permission in allowed:
        assert checker.has_permission([role], permission)
    for permission in denied:
        assert not checker.has_permission([role], permission)


def test_tenant_admin_holds_every_tenant_permission_through_wildcards() -> None:
    tenant_scoped = [p for p in Permission if p.resource != "platform"]
    assert all(checker.has_permission(["tenant_admin"], p) for p in tenant_scoped)
    # Wildcards also cover permissions an application adds later.
    assert checker.has_permission(["tenant_admin"], "workflow:archive")
    assert not checker.has_permission(["manager"], "workflow:archive")
    assert checker.has_permission(["super_admin"], "reports:generate")


@given(st.sampled_from(ROLES), st.sampled_from(PERMISSIONS))
def test_roles_above_hold_every_permission_of_the_roles_below(role: str, permission: str) -> None:
    if checker.has_permission([role], permission):
        for above in DEFAULT_POLICY.roles_above(role):
            assert checker.has_permission([above], permission), (above, role, permission)


def test_hierarchy_is_the_documented_one() -> None:
    above_viewer = DEFAULT_POLICY.roles_above("viewer")
    assert above_viewer == {"user", "team_lead", "manager", "tenant_admin", "super_admin"}
    assert DEFAULT_POLICY.roles_above("api_user") == {"tenant_admin", "super_admin"}
    assert DEFAULT_POLICY.roles_above("super_admin") == frozenset()


@given(grant_lists, tenants, st.sampled_from(PERMISSIONS))
def test_no_role_grants_anything_where_it_was_not_granted(
    grants: list[RoleGrant], tenant: str | None, permission: str
) -> None:
    allowed = checker.check(grants, permission, tenant_id=tenant)
    applicable = [
        g
        for g in grants
        if g.tenant_id == tenant or (g.tenant_id is None and g.role == "super_admin")
    ]
    if allowed:
        assert applicable, "allowed without a grant that applies in this tenant"
    expected = checker.has_permission([g.role for g in applicable], permission)
    assert allowed == expected
    decision = checker.explain(grants, permission, tenant_id=tenant)
    assert decision.allowed == allowed
    if decision.allowed:
        assert decision.role in {g.role for g in applicable}


@given(st.sampled_from([r for r in ROLES if r != "super_admin"]), st.sampled_from(PERMISSIONS))
def test_a_grant_in_tenant_a_grants_nothing_in_b(role: str, permission: str) -> None:
    grants = [RoleGrant(role, "tenant-a")]
    assert not checker.check(grants, permission, tenant_id="tenant-b")
    assert not checker.check(grants, permission, tenant_id=None)


def test_super_admin_scoped_to_a_tenant_stays_in_it() -> None:
    scoped = [RoleGrant("super_admin", "acme")]
    assert checker.check(scoped, Permission.BILLING_MANAGE, tenant_id="acme")
    assert not checker.check(scoped, Permission.BILLING_MANAGE, tenant_id="globex")
    platform = [RoleGrant("super_admin", None)]
    assert checker.check(platform, Permission.BILLING_MANAGE, tenant_id="globex")


def test_principal_checks_use_its_tenant() -> None:
    alice = Principal("u-1", "acme", ("manager",))
    assert checker.check_principal(alice, Permission.WORKFLOW_CREATE)
    assert checker.check_principal(alice, Permission.WORKFLOW_CREATE, tenant_id="acme")
    assert not checker.check_principal(alice, Permission.WORKFLOW_CREATE, tenant_id="globex")
    root = Principal("root", None, ("super_admin",))
    assert checker.check_principal(root, Permission.WORKFLOW_CREATE, tenant_id="globex")


def test_explain_says_why() -> None:
    grants = [
        RoleGrant("manager", "acme"),
        RoleGrant("tenant_admin", "globex"),
        RoleGrant("ghost", "acme"),
    ]
    allowed = checker.explain(grants, Permission.WORKFLOW_CREATE, tenant_id="acme")
    assert allowed
    assert allowed.role == "manager"
    assert allowed.grant == "workflow:create"
    assert "inherits 'user'" in allowed.reason
    denied = checker.explain(grants, Permission.BILLING_MANAGE, tenant_id="acme")
    assert not denied
    assert "tenant_admin@globex" in denied.reason
    assert "unknown roles grant nothing: ghost" in denied.reason
    wildcard = checker.explain(grants, Permission.BILLING_MANAGE, tenant_id="globex")
    assert wildcard.grant == "billing:*"
    bad = checker.explain(grants, "not a permission", tenant_id="acme")
    assert not bad
    assert "resource:action" in bad.reason


def test_require_raises_authorization_error() -> None:
    with pytest.raises(AuthorizationError, match="billing:manage"):
        checker.require([RoleGrant("viewer", "acme")], Permission.BILLING_MANAGE, tenant_id="acme")
    assert checker.require([RoleGrant("tenant_admin", "acme")], "billing:manage", tenant_id="acme")


def test_custom_policy_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="cycle"):
        RolePolicy({"a": [], "b": []}, {"a": ["b"], "b": ["a"]})
    with pytest.raises(ConfigurationError, match="unknown role"):
        RolePolicy({"a": []}, {"a": ["missing"]})
    with pytest.raises(ConfigurationError, match="resource:action"):
        RolePolicy({"a": ["workflows"]})
    custom = PermissionChecker(RolePolicy({"auditor": ["audit_log:*"]}))
    assert custom.has_permission(["auditor"], Permission.AUDIT_LOG_EXPORT)
    assert not custom.has_permission(["auditor"], Permission.WORKFLOW_READ)


ANY_PERMISSION = st.one_of(
    st.sampled_from(PERMISSIONS),
    st.sampled_from(["workflow:archive", "report:export", "bad permission", "", ":", "a:b:c"]),
    st.text(max_size=20),
)


@given(grant_lists, ANY_PERMISSION, tenants)
def test_fast_check_and_explanation_always_agree(
    grants: list[RoleGrant], permission: str, tenant: str | None
) -> None:
    # The FastAPI dependency answers allowed requests with check() and explains only denials,
    # so the two must never disagree, not even on malformed or unknown permission strings.
    assert checker.check(grants, permission, tenant_id=tenant) == (
        checker.explain(grants, permission, tenant_id=tenant).allowed
    )
