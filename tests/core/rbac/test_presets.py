"""The seed's catalogue is a preset: `RolePolicy` takes any catalogue, and an application extends
the default without editing the SDK."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypoint_core.errors import ConfigurationError
from relaypoint_core.rbac import (
    DEFAULT_POLICY,
    ROLE_GRANTS,
    SEED_PERMISSIONS,
    Permission,
    PermissionChecker,
    RoleGrant,
    RolePolicy,
)
from relaypoint_core.rbac.presets import SEED_PLATFORM_ROLES, seed_policy

LIBRARY = RolePolicy(
    {"reader": ["book:read"], "librarian": ["book:*", "member:read"]},
    {"librarian": ["reader"]},
    catalogue=["book:read", "book:lend", "book:repair", "member:read"],
)


def test_the_default_is_the_seed_preset() -> None:
    assert DEFAULT_POLICY.catalogue == SEED_PERMISSIONS == {p.value for p in Permission}
    assert DEFAULT_POLICY.platform_roles == SEED_PLATFORM_ROLES == {"super_admin"}
    assert set(DEFAULT_POLICY.roles) == set(ROLE_GRANTS)
    fresh = seed_policy()
    for role in DEFAULT_POLICY.roles:
        assert fresh.permissions(role) == DEFAULT_POLICY.permissions(role)
    assert PermissionChecker().policy is DEFAULT_POLICY


def test_a_policy_over_a_catalogue_of_its_own() -> None:
    assert LIBRARY.permissions("librarian") == {
        "book:read",
        "book:lend",
        "book:repair",
        "member:read",
    }
    assert LIBRARY.permissions("reader") == {"book:read"}
    checker = PermissionChecker(LIBRARY)
    assert checker.has_permission(("librarian",), "book:lend")
    assert not checker.has_permission(("reader",), "book:lend")
    assert not checker.has_permission(("librarian",), Permission.WORKFLOW_READ)
    # Outside the catalogue a valid permission is still answered from the wildcard grants.
    assert checker.has_permission(("librarian",), "book:burn")
    assert not checker.has_permission(("reader",), "book:burn")
    # No platform role unless the policy names one: a platform-scope grant applies nowhere else.
    assert not checker.check([RoleGrant("librarian", None)], "book:read", tenant_id="acme")


def test_a_bad_catalogue_entry_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'books' is not a 'resource:action'"):
        RolePolicy({}, catalogue=["books"])
    with pytest.raises(ConfigurationError, match="inherits unknown role"):
        DEFAULT_POLICY.extend(inherits={"auditor": ["ghost"]})


EXTENDED = DEFAULT_POLICY.extend(
    permissions=["report:read", "report:export"],
    grants={"viewer": ["report:read"], "auditor": ["report:*", "audit_log:read"]},
    inherits={"auditor": ["viewer"]},
    platform_roles=["support"],
)


def test_extending_adds_and_never_removes() -> None:
    assert {"report:read", "report:export"} <= EXTENDED.catalogue
    assert "report:read" not in DEFAULT_POLICY.catalogue  # the preset is unchanged
    assert "report:read" in EXTENDED.permissions("viewer")  # precomputed, a set lookup
    assert "report:read" in EXTENDED.permissions("manager")  # inherited through the chain
    assert "report:export" not in EXTENDED.permissions("tenant_admin")  # no report:* grant
    assert "report:export" in EXTENDED.permissions("super_admin")  # '*'
    assert EXTENDED.permissions("auditor") == {
        "report:read",
        "report:export",
        "audit_log:read",
        *DEFAULT_POLICY.permissions("viewer"),
    }
    assert EXTENDED.platform_roles == {"super_admin", "support"}
    for role in DEFAULT_POLICY.roles:
        assert DEFAULT_POLICY.permissions(role) <= EXTENDED.permissions(role)
    decision = PermissionChecker(EXTENDED).explain(
        [RoleGrant("manager", "acme")], "report:read", tenant_id="acme"
    )
    assert decision.allowed
    assert decision.role == "manager"
    assert decision.grant == "report:read"


@given(
    role=st.sampled_from(sorted(EXTENDED.roles)),
    permission=st.sampled_from(sorted(EXTENDED.catalogue)),
)
def test_a_role_above_holds_what_the_role_below_holds(role: str, permission: str) -> None:
    if EXTENDED.role_holds(role, permission):
        for above in EXTENDED.roles_above(role):
            assert EXTENDED.role_holds(above, permission)
    checker = PermissionChecker(EXTENDED)
    assert checker.has_permission((role,), permission) == EXTENDED.role_holds(role, permission)
