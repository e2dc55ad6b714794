"""Refresh grace window, session listing, revoking one session and logging out everywhere,
on memory and on real Redis (and from several processes on Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relaypoint_core.audit import AuditAction, InMemoryAuditLog
from relaypoint_core.auth import (
    AuthService,
    KeyRing,
    TokenPair,
    TokenReuseError,
    TokenRevokedError,
    UserRecord,
    create_token_store,
)
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget
from tests.core.auth.conftest import HMAC_SECRET, PASSWORD, ServiceFactory

ROOT = Path(__file__).resolve().parents[3]
ALICE = UserRecord("u-1", "alice@acme.test", None, "acme", ("manager",))


async def test_sixteen_concurrent_refreshes_get_one_pair_and_the_family_lives(
    make_service: ServiceFactory, backend: BackendTarget
) -> None:
    first = make_service()
    # On Redis: a second app instance with its own connection; in memory: the same store.
    second = make_service(keys=first.keys) if backend.is_redis else make_service(store=first.store)
    pair = await first.issue_tokens(ALICE)
    results = await asyncio.gather(
        *((first, second)[i % 2].refresh(pair.refresh_token) for i in range(16))
    )
    assert {r.refresh_token for r in results} == {results[0].refresh_token}
    assert {r.access_token for r in results} == {results[0].access_token}
    follow_up = await first.refresh(results[0].refresh_token)
    assert follow_up.refresh_token != results[0].refresh_token


async def test_a_replay_after_the_window_revokes_the_family(
    make_service: ServiceFactory, fake_clock: FakeClock, audit: InMemoryAuditLog
) -> None:
    service = make_service(refresh_grace=10)
    pair = await service.issue_tokens(ALICE)
    rotated = await service.refresh(pair.refresh_token)
    fake_clock.advance(9)
    assert (await service.refresh(pair.refresh_token)).refresh_token == rotated.refresh_token
    fake_clock.advance(2)
    with pytest.raises(TokenReuseError):
        await service.refresh(pair.refresh_token)
    with pytest.raises(TokenRevokedError):
        await service.refresh(rotated.refresh_token)
    assert audit.find(action=AuditAction.REFRESH_REUSE)


async def test_grace_covers_only_the_token_rotated_last(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    first = await service.issue_tokens(ALICE)
    second = await service.refresh(first.refresh_token)
    await service.refresh(second.refresh_token)
    # `first` was rotated two steps ago: presenting it is reuse even inside the window.
    with pytest.raises(TokenReuseError):
        await service.refresh(first.refresh_token)


async def test_zero_grace_keeps_strict_reuse_detection(make_service: ServiceFactory) -> None:
    service = make_service(refresh_grace=0)
    pair = await service.issue_tokens(ALICE)
    await service.refresh(pair.refresh_token)
    with pytest.raises(TokenReuseError):
        await service.refresh(pair.refresh_token)


async def test_the_stored_grace_pair_is_sealed(redis_url: str, key_prefix: str) -> None:
    import redis.asyncio as redis

    service = AuthService(
        keys=KeyRing.from_secret(HMAC_SECRET),
        store=create_token_store(redis_url, key_prefix=key_prefix),
        audit=InMemoryAuditLog(),
    )
    pair = await service.issue_tokens(ALICE)
    rotated = await service.refresh(pair.refresh_token)
    await service.aclose()
    client = redis.Redis.from_url(redis_url)
    try:
        dump = b""
        async for key in client.scan_iter(match=f"{key_prefix}*"):
            if await client.type(key) == b"hash":
                dump += b"".join(v for v in (await client.hgetall(key)).values())
        assert rotated.refresh_token.encode() not in dump
        assert rotated.access_token.encode() not in dump
    finally:
        await client.aclose()


async def test_concurrent_refreshes_from_several_processes_get_one_pair(
    redis_url: str, key_prefix: str
) -> None:
    service = AuthService(
        keys=KeyRing.from_secret(HMAC_SECRET),
        store=create_token_store(redis_url, key_prefix=key_prefix),
        audit=InMemoryAuditLog(),
    )
    try:
        pair = await service.issue_tokens(ALICE)
        tokens = await asyncio.to_thread(_race_in_processes, redis_url, key_prefix, pair)
        assert len(tokens) == 16
        assert len(set(tokens)) == 1, tokens
        assert isinstance(await service.refresh(tokens[0]), TokenPair)
    finally:
        await service.aclose()


def _race_in_processes(redis_url: str, key_prefix: str, pair: TokenPair) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("_refresh_worker.py")),
                redis_url,
                key_prefix,
                HMAC_SECRET,
                pair.refresh_token,
                "4",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        tokens: list[str] = []
        for worker in workers:
            out, _ = worker.communicate(timeout=20)
            tokens += json.loads(out.strip().splitlines()[-1])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    return tokens


async def test_sessions_are_listed_with_client_hints_and_one_can_be_revoked(
    service: AuthService,
) -> None:
    phone = await service.login(
        "alice@acme.test", PASSWORD, tenant_id="acme", client={"user_agent": "phone"}
    )
    await service.login(
        "alice@acme.test", PASSWORD, tenant_id="acme", client={"user_agent": "laptop"}
    )
    alice = await service.verify_access_token(phone.access_token)
    sessions = await service.list_sessions(alice)
    assert sorted(s.client["user_agent"] for s in sessions) == ["laptop", "phone"]
    assert all(s.user_id == "u-1" and s.last_used_at >= s.created_at for s in sessions)
    bob = await service.verify_access_token(
        (await service.login("bob@globex.test", PASSWORD, tenant_id="globex")).access_token
    )
    assert len(await service.list_sessions(bob)) == 1
    phone_session = next(s for s in sessions if s.client["user_agent"] == "phone")
    assert not await service.revoke_session(bob, phone_session.family_id)  # not bob's
    assert await service.revoke_session(alice, phone_session.family_id)
    assert [s.client["user_agent"] for s in await service.list_sessions(alice)] == ["laptop"]
    with pytest.raises(TokenRevokedError):
        await service.refresh(phone.refresh_token)


async def test_logout_all_revokes_every_session_and_earlier_access_tokens_everywhere(
    make_service: ServiceFactory, backend: BackendTarget, fake_clock: FakeClock
) -> None:
    here = make_service()
    there = make_service(keys=here.keys) if backend.is_redis else make_service(store=here.store)
    one = await here.login("alice@acme.test", PASSWORD, tenant_id="acme")
    two = await here.login("alice@acme.test", PASSWORD, tenant_id="acme")
    bob = await here.login("bob@globex.test", PASSWORD, tenant_id="globex")
    assert (await there.verify_access_token(one.access_token)).user_id == "u-1"  # cached there
    fake_clock.advance(1)
    alice = await here.verify_access_token(one.access_token)
    assert await here.logout_all(alice) == 2
    assert await here.list_sessions(alice) == []
    for pair in (one, two):
        with pytest.raises(TokenRevokedError):
            await here.refresh(pair.refresh_token)
        with pytest.raises(TokenRevokedError):
            await here.verify_access_token(pair.access_token)
    fake_clock.advance(there.sessions.gate.interval)  # the other process notices within a second
    with pytest.raises(TokenRevokedError):
        await there.verify_access_token(one.access_token)
    assert (await there.verify_access_token(bob.access_token)).user_id == "u-2"
    fake_clock.advance(1)
    again = await here.login("alice@acme.test", PASSWORD, tenant_id="acme")
    assert (await there.verify_access_token(again.access_token)).user_id == "u-1"


async def test_store_grace_sessions_and_revoke_all_on_every_backend_including_a_cluster(
    backend_with_cluster: BackendTarget, fake_clock: FakeClock
) -> None:
    target = backend_with_cluster
    store = create_token_store(target.url, key_prefix=target.key_prefix, clock=fake_clock)
    try:
        for family in ("f1", "f2"):
            await store.create_family(
                "acme", family, token_id=f"{family}-t1", ttl=60, user_id="u-1", client={"ip": "1"}
            )
        await store.create_family("acme", "other", token_id="o1", ttl=60, user_id="u-2")
        first = await store.rotate_with_grace(
            "acme",
            "f1",
            presented_token_id="f1-t1",
            new_token_id="f1-t2",
            ttl=60,
            grace=5,
            replay=b"sealed",
            user_id="u-1",
        )
        again = await store.rotate_with_grace(
            "acme",
            "f1",
            presented_token_id="f1-t1",
            new_token_id="f1-t3",
            ttl=60,
            grace=5,
            replay=b"other",
            user_id="u-1",
        )
        assert (first.outcome.value, again.outcome.value, again.replay) == (
            "rotated",
            "grace",
            b"sealed",
        )
        sessions = await store.list_sessions("acme", "u-1")
        assert [(s.family_id, dict(s.client)) for s in sessions] == [
            ("f1", {"ip": "1"}),
            ("f2", {"ip": "1"}),
        ]
        assert await store.list_sessions("globex", "u-1") == []
        epoch = await store.epoch()
        assert await store.revoke_user("acme", "u-1", not_before=123.0, ttl=60) == 2
        assert await store.epoch() != epoch
        assert await store.not_before("acme", "u-1") == 123.0
        assert await store.not_before("acme", "u-2") is None
        assert await store.list_sessions("acme", "u-1") == []
        assert len(await store.list_sessions("acme", "u-2")) == 1
        assert await store.is_revoked("acme", "x", "f2")
    finally:
        await store.aclose()
