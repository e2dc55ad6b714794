"""Floods of input the attacker chooses leave bounded state and get answers that repeat none of
it (issue #12 items 4 and 6, fixed by #10's tenant directory and problem mapping; kept here on
both backend sets)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import Tenancy, TenantDirectory
from tests.adversarial.conftest import API, LiveApp, bearer
from tests.conftest import require_service
from tests.support.services import POSTGRES_URL

NEGATIVE_SIZE = 200
MARKUP = "<script>alert(1)</script>"


async def _postgres_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'flood.db'}"
        return
    require_service("postgres")
    database = f"rp_flood_{uuid.uuid4().hex[:10]}"
    await _postgres_admin(f'CREATE DATABASE "{database}"')
    try:
        base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{database}"
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def test_ten_thousand_unknown_and_hostile_keys_leave_a_bounded_directory(
    control_url: str,
) -> None:
    engine = create_async_engine(control_url, pool_size=4, max_overflow=0)
    tenancy = Tenancy(engine)
    await tenancy.install()
    directory = TenantDirectory(engine, negative_size=NEGATIVE_SIZE, clock=FakeClock())
    hostile = ["a\x00b", "\ud800", "x" * 61_440, MARKUP, "{t=acme}:*", "\u202eacme"]
    try:
        for start in range(0, 10_000, 500):
            keys = [f"nobody-{n}" for n in range(start, start + 500)]
            answers = await asyncio.gather(*(directory.get(k) for k in keys))
            assert answers == [None] * len(keys)
            assert directory.cached_entries <= NEGATIVE_SIZE
        queries = directory.queries
        for key in hostile:
            assert await directory.get(key) is None
        assert directory.queries == queries  # none of them became a query (or an entry)
        assert directory.cached_entries <= NEGATIVE_SIZE
    finally:
        await tenancy.dispose()


HOSTILE_TEXT = st.sampled_from([MARKUP, '"><img src=x onerror=alert(1)>', "a\x00b"]) | st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40
).map(lambda s: f"<b>{s}</b>")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=HOSTILE_TEXT, where=st.sampled_from(["fields", "limit", "offset", "body-key", "path"]))
def test_errors_never_echo_markup(live_app: LiveApp, value: str, where: str) -> None:
    tokens = live_app.session("viewer@acme.example")
    with live_app.client() as client:
        if where in ("fields", "limit", "offset"):
            response = client.get(f"{API}/workflows", params={where: value}, headers=bearer(tokens))
        elif where == "body-key":
            response = client.post(
                f"{API}/auth/login",
                json={"email": "a@b.example", "password": "x" * 12, value: 1},
            )
        else:
            segment = quote(value.encode("utf-8", "surrogatepass"), safe="")
            response = client.get(f"{API}/no-such/{segment}", headers=bearer(tokens))
    assert response.status_code < 500, response.text
    assert "<script" not in response.text
    assert "<b>" not in response.text
    assert "<img" not in response.text
