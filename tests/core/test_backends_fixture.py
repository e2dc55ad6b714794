"""The shared fixtures really reach Redis: this proves the service tests are not silently mocked."""

from __future__ import annotations

from relaypoint_core.redis_client import create_redis_client
from tests.conftest import BackendTarget


async def test_backend_fixture_reaches_a_real_store(backend: BackendTarget) -> None:
    if not backend.is_redis:
        assert backend.url == "memory://"
        return
    client = create_redis_client(backend.url, component="test")
    try:
        await client.set(f"{backend.key_prefix}probe", b"1")
        assert await client.get(f"{backend.key_prefix}probe") == b"1"
        info = await client.info("server")
        assert "redis_version" in info
    finally:
        await client.aclose()
