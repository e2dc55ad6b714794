"""Hostile slugs and names never reach SQL as identifiers; names are stored verbatim as data."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypoint_tenancy import InvalidSlugError, schema_name_for, validate_identifier, validate_slug
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.validation import database_name_for, quote_identifier
from tests.tenancy.conftest import new_slug

HOSTILE = [
    "acme'; DROP TABLE rp_tenants; --",
    'acme"; DROP SCHEMA public CASCADE; --',
    "acme;",
    "acme--",
    "a--b",
    "-acme",
    "acme-",
    "Acme",
    "acme corp",
    "acme_corp",
    "acme.corp",
    "acme/../x",
    "\uff41\uff43\uff4d\uff45",  # fullwidth "acme"
    "acmé",
    "\u0430cme",  # Cyrillic a
    "acme\x00",
    "acme\n",
    " acme",
    "a" * 200,
    "1acme",
    "",
    "a",
    "public",
    "pg_catalog",
    "pg-catalog",
    "pg-toast",
    "information_schema",
    "information-schema",
    "PUBLIC",
    "www",
    "api",
]


@pytest.mark.parametrize("slug", HOSTILE)
def test_hostile_slugs_are_refused_with_a_clear_error(slug: str) -> None:
    with pytest.raises(InvalidSlugError, match="tenant slug"):
        validate_slug(slug)


@pytest.mark.parametrize(
    "name", ["public", "pg_catalog", "information_schema", "pg_temp_1", "x;y", 'a"b', "A"]
)
def test_hostile_identifiers_are_refused(name: str) -> None:
    with pytest.raises(InvalidSlugError):
        validate_identifier(name, what="schema name")
    with pytest.raises(InvalidSlugError):
        quote_identifier(name)


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidSlugError, match="must be a string"):
        validate_slug(42)


SAFE = re.compile(r"[a-z][a-z0-9_]{0,62}")


@given(st.text(max_size=80))
def test_any_text_is_either_refused_or_a_safe_slug(candidate: str) -> None:
    try:
        slug = validate_slug(candidate)
    except InvalidSlugError:
        return
    assert re.fullmatch(r"[a-z0-9-]{2,48}", slug)
    assert SAFE.fullmatch(schema_name_for(slug))
    assert SAFE.fullmatch(database_name_for(slug))


@given(
    st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True),
)
def test_schema_names_are_injective(a: str, b: str) -> None:
    try:
        sa, sb = schema_name_for(a), schema_name_for(b)
    except InvalidSlugError:
        return  # reserved words
    assert (sa == sb) == (a == b)


async def test_manager_refuses_hostile_slugs_before_any_sql(tenancy: Tenancy) -> None:
    async with tenancy.manager() as manager:
        for slug in ("x'; DROP TABLE rp_tenants; --", "public", "pg_catalog", "a" * 200):
            with pytest.raises(InvalidSlugError):
                await manager.create_tenant(
                    name="Evil", slug=slug, admin_email="e@evil.example", admin_name="E"
                )
        assert await manager.list_tenants() is not None  # the control table is still there


async def test_hostile_names_are_stored_as_data(tenancy: Tenancy) -> None:
    slug = new_slug()
    evil = 'Robert\'); DROP TABLE rp_tenants;-- "quoted" ünïcödé'
    async with tenancy.manager() as manager:
        await manager.create_tenant(
            name=evil, slug=slug, admin_email="o'brien@evil.example", admin_name=evil
        )
        tenant = await manager.get_tenant(slug)
        assert tenant.name == evil
        users = await manager.list_users(slug)
        assert users[0]["name"] == evil
        assert users[0]["email"] == "o'brien@evil.example"
        with pytest.raises(Exception, match="does not exist"):
            await manager.get_tenant("' OR '1'='1")
