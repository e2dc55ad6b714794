from __future__ import annotations

import asyncio

import pytest

from relaypoint_core import (
    InvalidTenantIdError,
    NoTenantError,
    current_tenant,
    get_current_tenant,
    set_current_tenant,
    tenant_scope,
)


def test_no_tenant_by_default() -> None:
    assert current_tenant() is None
    with pytest.raises(NoTenantError, match="tenant_scope"):
        get_current_tenant()


def test_scope_binds_and_restores() -> None:
    with tenant_scope("acme"):
        assert get_current_tenant() == "acme"
        with tenant_scope("globex"):
            assert current_tenant() == "globex"
        assert current_tenant() == "acme"
    assert current_tenant() is None


async def test_tasks_do_not_leak_tenants_into_each_other() -> None:
    seen: dict[str, str | None] = {}

    async def job(tenant: str) -> None:
        with tenant_scope(tenant):
            await asyncio.sleep(0)  # a yield: the other tasks run inside their own scopes
            seen[tenant] = current_tenant()

    await asyncio.gather(*(job(f"t{i}") for i in range(50)))
    assert seen == {f"t{i}": f"t{i}" for i in range(50)}
    assert current_tenant() is None


@pytest.mark.parametrize("bad", ["", " acme", "a\x00b", "x" * 129, 42])
def test_invalid_tenant_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidTenantIdError):
        set_current_tenant(bad)  # type: ignore[arg-type]
