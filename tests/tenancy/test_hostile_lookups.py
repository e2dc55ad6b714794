"""Lookups by a value no row can match (NUL, a lone surrogate, 60 KB) answer "not found" without
reaching SQL, where PostgreSQL would refuse the NUL with a 500 (issue #12 item 3)."""

from __future__ import annotations

import pytest

from relaypoint_tenancy import SqlTenantLookup, SqlUserDirectory, TenantNotFoundError
from relaypoint_tenancy.service import Tenancy

HOSTILE = ["a\x00b", "\x00", "\ud800", "x" * 61_440]


@pytest.mark.parametrize("value", HOSTILE, ids=["nul-inside", "nul", "surrogate", "60kb"])
async def test_hostile_tenant_and_user_lookups_are_misses(tenancy: Tenancy, value: str) -> None:
    lookup = SqlTenantLookup(tenancy.engine)
    assert await lookup.by_key(value) is None
    assert await lookup.by_domain(value) is None
    users = SqlUserDirectory(tenancy.strategy)
    assert await users.get_by_email(value, tenant_id="acme") is None
    assert await users.get_by_email("admin@acme.example", tenant_id=value) is None
    assert await users.get_by_id(value) is None
    async with tenancy.manager() as manager:
        assert await manager.find_tenant(value) is None
        with pytest.raises(TenantNotFoundError) as caught:
            await manager.get_tenant(value)
    assert value not in str(caught.value)
