"""The `TenantManager` facade's modules: role grants, audited override changes, one email rule."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relaypoint_tenancy
from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy import TenancyError
from relaypoint_tenancy.branding import validate_branding
from relaypoint_tenancy.errors import BrandingValidationError
from relaypoint_tenancy.manager import TenantManager
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.validation import clean_email, is_email
from tests.tenancy.conftest import new_slug


def _actions(exported: dict[str, Any], prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e["action"], e["detail"])
        for e in exported["audit_events"]
        if e["action"].startswith(prefix)
    ]


async def test_assign_role_grants_once_audits_once_and_shows_in_the_user_list(
    tenancy: Tenancy,
) -> None:
    slug, other = new_slug("role"), new_slug("role")
    async with tenancy.manager() as manager:
        await manager.create_tenant(name="R", slug=slug, admin_email="a@r.example", admin_name="A")
        await manager.create_tenant(name="O", slug=other, admin_email="a@o.example", admin_name="A")
        user_id = await manager.create_user(slug, email="u@r.example", name="U")
        stranger = await manager.create_user(other, email="s@o.example", name="S")

        await manager.assign_role(slug, user_id, Role.MANAGER)
        await manager.assign_role(slug, user_id, "manager")  # already held: no second grant

        users = {u["id"]: u for u in await manager.list_users(slug)}
        assert users[user_id]["roles"] == ["manager", "user"]
        exported = await manager.export_tenant_data(slug)
        assert _actions(exported, "role.") == [
            ("role.assigned", {"user_id": user_id, "role": "manager"})
        ]

        with pytest.raises(TenancyError, match="unknown role"):
            await manager.assign_role(slug, user_id, "overlord")
        # a user of another tenant cannot be granted a role here, and gains none there
        with pytest.raises(TenancyError, match="not a member"):
            await manager.assign_role(slug, stranger, Role.TENANT_ADMIN)
        other_users = {u["id"]: u for u in await manager.list_users(other)}
        assert other_users[stranger]["roles"] == ["user"]
        assert _actions(await manager.export_tenant_data(other), "role.") == []


async def test_clear_quota_override_is_audited_like_set(sqlite_tenancy: Tenancy) -> None:
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Q", slug="quota-co", admin_email="a@q.example", admin_name="A"
        )
        await manager.set_quota_override("quota-co", "users", 7)
        cleared = await manager.clear_quota_override("quota-co", "users")
        assert "users" not in cleared.quota_overrides
        await manager.clear_quota_override("quota-co", "users")  # nothing left to clear
        exported = await manager.export_tenant_data("quota-co")
    assert _actions(exported, "quota.") == [
        ("quota.override", {"resource": "users", "limit": 7}),
        (
            "quota.override_cleared",
            {"resource": "users", "previous_limit": 7, "had_override": True},
        ),
        (
            "quota.override_cleared",
            {"resource": "users", "previous_limit": None, "had_override": False},
        ),
    ]


async def test_a_failed_clear_leaves_no_audit_event(sqlite_tenancy: Tenancy) -> None:
    async with sqlite_tenancy.manager() as manager:
        with pytest.raises(relaypoint_tenancy.TenantNotFoundError):
            await manager.clear_quota_override("nobody-here", "users")


_ADDRESSES = [
    "a@b.example",
    "first.last+tag@sub.acme.com",
    "o'brien@acme.io",
    "a@localhost",  # no dotted domain
    "a b@acme.com",
    "<a>@acme.com",
    '"a"@acme.com',
    "a..b@acme.com",
    ".a@acme.com",
    "a@acme.c0m",
    "a@-acme.com",
    "a\x00@acme.com",
    "x" * 65 + "@acme.com",
    "a@" + "b" * 250 + ".com",
]


@pytest.mark.parametrize("address", _ADDRESSES)
def test_users_and_branding_agree_on_what_an_email_address_is(address: str) -> None:
    try:
        validate_branding({"support_email": address})
        branding_ok = True
    except BrandingValidationError:
        branding_ok = False
    try:
        clean_email(address)
        user_ok = True
    except TenancyError:
        user_ok = False
    assert branding_ok == user_ok == is_email(address)


def test_the_email_rule_keeps_its_examples() -> None:
    accepted = {a for a in _ADDRESSES if is_email(a)}
    assert accepted == {"a@b.example", "first.last+tag@sub.acme.com", "o'brien@acme.io"}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gets_the_same_answer_from_both_validators(text: str) -> None:
    try:
        validate_branding({"support_email": text})
        branding_ok = True
    except BrandingValidationError:
        branding_ok = False
    try:
        # branding strips surrounding whitespace before validating, as clean_email does
        clean_email(text)
        user_ok = True
    except TenancyError:
        user_ok = False
    assert branding_ok == user_ok


def test_the_facade_keeps_the_public_api() -> None:
    methods = {
        name
        for name, member in inspect.getmembers(TenantManager, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert methods == {
        "install", "create_tenant", "get_tenant", "find_tenant", "tenant_ref", "list_tenants",
        "change_plan", "suspend_tenant", "reactivate_tenant", "run_due_transitions",
        "add_domain", "verify_domain", "remove_domain", "list_domains",
        "update_branding", "get_branding",
        "create_user", "set_password", "assign_role", "list_users",
        "consume_quota", "release_quota", "get_usage", "set_quota_override",
        "clear_quota_override",
        "export_tenant_data", "export_tenant_json", "delete_tenant",
    }  # fmt: skip
    assert "TenantManager" in relaypoint_tenancy.__all__
