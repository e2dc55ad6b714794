"""Auth and RBAC: access-token verification vs bare PyJWT, permission checks vs pycasbin, API-key
verification vs an HS256 access-token verify in the same run."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import casbin
import jwt
import redis
from tests.support.services import delete_redis_prefix

from benchmarks._harness import Row, print_table, time_async, time_sync
from relaypoint_core.audit import NullAuditLog
from relaypoint_core.auth import (
    ApiKeyService,
    AuthService,
    KeyRing,
    SigningKey,
    UserRecord,
    create_api_key_store,
)
from relaypoint_core.rbac import DEFAULT_POLICY, Permission, PermissionChecker, RoleGrant
from relaypoint_core.rbac.permissions import matches
from relaypoint_core.request_state import Principal

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
ISSUER = "relaypoint"
AUDIENCE = "relaypoint-api"
TENANTS = [f"tenant-{i}" for i in range(5)]

CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""


def _verify_rows(label: str, key: SigningKey, pyjwt_key: Any) -> list[Row]:
    # The uncached rows measure a full verification; "repeated token (cached)" is what a session
    # presenting the same token on every request pays from its second request on.
    service = AuthService(
        keys=KeyRing([key]),
        audit=NullAuditLog(),
        issuer=ISSUER,
        audience=AUDIENCE,
        verified_token_cache_size=0,
    )
    cached = AuthService(keys=service.keys, audit=NullAuditLog(), issuer=ISSUER, audience=AUDIENCE)
    user = UserRecord("u-42", "u42@acme.test", None, "acme", ("manager",))
    token = asyncio.run(service.issue_tokens(user)).access_token

    def bare() -> object:
        return jwt.decode(
            token, pyjwt_key, algorithms=[key.algorithm], audience=AUDIENCE, issuer=ISSUER
        )

    def ours() -> object:
        return service.decode_access_token(token)

    async def ours_async() -> object:
        return await service.verify_access_token(token)

    async def ours_cached() -> object:
        return await cached.verify_access_token(token)

    assert isinstance(ours(), Principal)
    assert bare()["sub"] == "u-42"  # type: ignore[index]
    ops = 5_000 if key.is_symmetric else 1_000
    return [
        Row(f"pyjwt.decode {label}", time_sync(bare, ops=ops)),
        Row(f"decode_access_token {label}", time_sync(ours, ops=ops)),
        Row(
            f"await verify_access_token {label}",
            asyncio.run(time_async(ours_async, ops=ops)),
        ),
        Row(
            f"verify, repeated token (cached) {label}",
            asyncio.run(time_async(ours_cached, ops=5_000)),
        ),
    ]


def bench_verify() -> None:
    hs = SigningKey.hmac(SECRET, kid="hs-1")
    rows = _verify_rows("HS256", hs, SECRET)
    print_table(
        "Access-token verification, HS256 (goal: <= 1.3x bare PyJWT)",
        rows,
        baseline="pyjwt.decode HS256",
    )
    ed = SigningKey.generate_ed25519("ed-1")
    rows = _verify_rows("EdDSA", ed, ed.public)
    print_table(
        "Access-token verification, EdDSA (goal: <= 1.3x bare PyJWT)",
        rows,
        baseline="pyjwt.decode EdDSA",
    )


def _casbin_enforcer() -> casbin.Enforcer:
    model = casbin.model.Model()
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    all_permissions = [p.value for p in Permission]
    policies: list[list[str]] = []
    groupings: list[list[str]] = [["alice", "manager", "tenant-3"], ["bob", "viewer", "tenant-3"]]
    for tenant in TENANTS:
        for role in DEFAULT_POLICY.roles:
            for grant in DEFAULT_POLICY.own_grants(role):
                for permission in all_permissions:
                    if matches(grant, permission):
                        resource, _, action = permission.partition(":")
                        policies.append([role, tenant, resource, action])
            groupings.extend([role, parent, tenant] for parent in DEFAULT_POLICY.inherits(role))
    enforcer.add_policies(policies)
    enforcer.add_grouping_policies(groupings)
    return enforcer


def bench_permissions() -> None:
    enforcer = _casbin_enforcer()
    checker = PermissionChecker()
    alice = Principal("alice", "tenant-3", ("manager",))
    bob_grants = [RoleGrant("viewer", "tenant-3")]

    # Same answers first: the comparison is only fair if both decide alike.
    for user, grants in (("alice", [RoleGrant("manager", "tenant-3")]), ("bob", bob_grants)):
        for tenant in ("tenant-3", "tenant-4"):
            for permission in Permission:
                if permission.resource == "platform":
                    continue
                resource, _, action = permission.value.partition(":")
                expected = enforcer.enforce(user, tenant, resource, action)
                assert checker.check(grants, permission, tenant_id=tenant) == expected, (
                    user,
                    tenant,
                    permission,
                )

    rows = [
        Row(
            "casbin enforce (allow)",
            time_sync(
                lambda: enforcer.enforce("alice", "tenant-3", "workflow", "create"), ops=2_000
            ),
        ),
        Row(
            "casbin enforce (deny)",
            time_sync(
                lambda: enforcer.enforce("bob", "tenant-3", "billing", "manage"), ops=200, repeats=3
            ),
        ),
        Row(
            "check_principal (allow)",
            time_sync(
                lambda: checker.check_principal(alice, Permission.WORKFLOW_CREATE), ops=20_000
            ),
        ),
        Row(
            "check grants+tenant (deny)",
            time_sync(
                lambda: checker.check(bob_grants, Permission.BILLING_MANAGE, tenant_id="tenant-3"),
                ops=20_000,
            ),
        ),
        Row(
            "AuthService.validate_permissions",
            time_sync(
                lambda: AuthService.validate_permissions(
                    user_roles=["manager"], required_permission=Permission.WORKFLOW_CREATE
                ),
                ops=20_000,
            ),
        ),
    ]
    casbin_allow = rows[0].seconds_per_op
    for row in rows:
        row.extra["speedup"] = f"{casbin_allow / row.seconds_per_op:,.0f}x"
    print_table(
        f"Permission check, RBAC with domains ({len(TENANTS)} tenants; goal: >= 50x faster "
        "than casbin, i.e. ratio <= 0.02)",
        rows,
        baseline="casbin enforce (allow)",
    )


def _bench_redis_url() -> str | None:
    url = os.environ.get("RELAYPOINT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception:
        return None
    return url


async def _api_key_rows() -> list[Row]:
    hs = SigningKey.hmac(SECRET, kid="hs-1")
    auth = AuthService(keys=KeyRing([hs]), audit=NullAuditLog(), issuer=ISSUER, audience=AUDIENCE)
    user = UserRecord("u-42", "u42@acme.test", None, "acme", ("tenant_admin",))
    token = (await auth.issue_tokens(user)).access_token
    creator = Principal("u-42", "acme", ("tenant_admin",))
    memory = ApiKeyService(create_api_key_store("memory://"))
    auth.add_credential_verifier(memory)
    key = (
        await memory.create(creator, tenant_id="acme", name="b", permissions=["workflow:read"])
    ).key

    async def access_token() -> object:
        return await auth.verify_access_token(token)

    async def cached_key() -> object:
        return await memory.verify(key)

    async def credential_key() -> object:
        return await auth.verify_credential(key)

    rows = [
        Row("await verify_access_token HS256", await time_async(access_token, ops=5_000)),
        Row("await ApiKeyService.verify (cached)", await time_async(cached_key, ops=5_000)),
        Row("await verify_credential API key", await time_async(credential_key, ops=5_000)),
    ]
    url = _bench_redis_url()
    if url is not None:
        prefix = f"rpbench{uuid.uuid4().hex[:8]}:"
        on_redis = ApiKeyService(create_api_key_store(url, key_prefix=prefix))
        cold = ApiKeyService(
            create_api_key_store(url, key_prefix=prefix), cache_ttl=0.0, last_used_resolution=1e9
        )
        try:
            redis_key = (
                await on_redis.create(
                    creator, tenant_id="acme", name="b", permissions=["workflow:read"]
                )
            ).key

            async def cached_redis_key() -> object:
                return await on_redis.verify(redis_key)

            async def uncached_redis_key() -> object:
                return await cold.verify(redis_key)

            rows.append(
                Row(
                    "await ApiKeyService.verify (cached, Redis)", await time_async(cached_redis_key)
                )
            )
            rows.append(
                Row(
                    "await ApiKeyService.verify (miss, Redis)",
                    await time_async(uncached_redis_key, ops=500),
                )
            )
        finally:
            await on_redis.aclose()
            await cold.aclose()
            delete_redis_prefix(url, prefix)
    return rows


def bench_api_keys() -> None:
    print_table(
        "API-key verification (goal: a cached check <= 2x an HS256 access-token verify)",
        asyncio.run(_api_key_rows()),
        baseline="await verify_access_token HS256",
    )


def main() -> None:
    bench_verify()
    bench_permissions()
    bench_api_keys()
