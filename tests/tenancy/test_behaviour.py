"""The behavioural suite every isolation strategy passes: create, isolate, export, delete."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text, update

from relaypoint_core.auth.passwords import verify_password
from relaypoint_core.rbac.roles import Role
from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import (
    PlanTier,
    TenantExistsError,
    TenantNotFoundError,
    TenantStatus,
)
from relaypoint_tenancy.models import AuditEvent, User
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.strategies import TenantIsolationError, TenantRef
from tests.tenancy.conftest import StrategyTarget, build_strategy, new_slug


async def _create(tenancy: Tenancy, slug: str, **options: object) -> object:
    async with tenancy.manager() as manager:
        return await manager.create_tenant(
            name=f"{slug} Corp",
            slug=slug,
            plan_tier=options.pop("plan_tier", PlanTier.ENTERPRISE),
            admin_email=f"admin@{slug}.example",
            admin_name="John Doe",
            **options,
        )


async def _location_exists(tenancy: Tenancy, location: str | None) -> bool:
    kind = tenancy.strategy.kind
    if kind == "shared":
        return True
    async with tenancy.engine.connect() as conn:
        if kind == "schema":
            query = text("SELECT count(*) FROM pg_namespace WHERE nspname = :n")
        else:
            query = text("SELECT count(*) FROM pg_database WHERE datname = :n")
        return bool((await conn.execute(query, {"n": location})).scalar_one())


async def test_create_tenant_with_admin_and_isolation_resources(tenancy: Tenancy) -> None:
    slug = new_slug()
    async with tenancy.manager() as manager:
        tenant = await manager.create_tenant(
            name="Acme Corp",
            slug=slug,
            plan_tier=PlanTier.ENTERPRISE,
            admin_email="Admin@Acme.com",
            admin_name="John Doe",
            admin_password="s3cret-passphrase",
        )
        assert tenant.slug == slug
        assert tenant.plan_tier is PlanTier.ENTERPRISE
        assert tenant.status is TenantStatus.TRIAL  # enterprise has a 30-day trial
        assert tenant.isolation == tenancy.strategy.kind
        users = await manager.list_users(slug)
        assert [(u["email"], u["roles"]) for u in users] == [
            ("admin@acme.com", [Role.TENANT_ADMIN.value])
        ]
        assert (await manager.get_usage(slug))["users"].used == 1
        assert (await manager.get_tenant(tenant.id)).slug == slug  # id and slug both resolve
    assert await _location_exists(tenancy, tenant.data_location)
    record = await tenancy.user_directory().get_by_email("admin@acme.com", tenant_id=slug)
    assert record is not None
    assert record.roles == ("tenant_admin",)
    assert verify_password(record.password_hash, "s3cret-passphrase")


async def test_duplicate_slug_is_refused_and_leaves_the_first_intact(tenancy: Tenancy) -> None:
    slug = new_slug()
    first = await _create(tenancy, slug)
    with pytest.raises(TenantExistsError, match=slug):
        await _create(tenancy, slug)
    async with tenancy.manager() as manager:
        assert [t.slug for t in await manager.list_tenants() if t.slug == slug] == [slug]
        assert len(await manager.list_users(slug)) == 1
    assert await _location_exists(tenancy, first.data_location)  # type: ignore[attr-defined]


async def test_failure_half_way_leaves_nothing_behind(tenancy: Tenancy) -> None:
    steps = ["tenant_row", "isolation", "admin_user"]
    if tenancy.strategy.kind == "database":
        steps.remove("isolation")  # admin_user covers the same undo; CREATE/DROP DATABASE is slow
    for failing_step in steps:
        await _fail_at(tenancy, failing_step)


async def _fail_at(tenancy: Tenancy, failing_step: str) -> None:
    slug = new_slug()

    async def explode(step: str, ref: TenantRef) -> None:
        if step == failing_step:
            raise RuntimeError(f"injected failure at {step}")

    with pytest.raises(RuntimeError, match="injected failure"):
        async with tenancy.manager(on_step=explode) as manager:
            await manager.create_tenant(
                name="Doomed", slug=slug, admin_email="a@doomed.example", admin_name="A"
            )
    async with tenancy.manager() as manager:
        assert await manager.find_tenant(slug) is None
    location = tenancy.strategy.location_for(slug)
    if location is not None:
        assert not await _location_exists(tenancy, location)
    async with tenancy.engine.connect() as conn:
        if tenancy.strategy.kind == "shared":
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(User.__table__)
                    .where(User.__table__.c.email == "a@doomed.example"),
                    execution_options={"schema_translate_map": {"__rp_tenant__": None}},
                )
            ).scalar_one()
            assert count == 0
        counters = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM rp_usage_counters c LEFT JOIN rp_tenants t ON t.id = c.tenant_id WHERE t.id IS NULL"
                )
            )
        ).scalar_one()
        assert counters == 0
    # and the slug is free again
    await _create(tenancy, slug)


async def test_tenant_sessions_are_isolated(tenancy: Tenancy) -> None:
    a = await _create(tenancy, new_slug("a"))
    b = await _create(tenancy, new_slug("b"))
    ref_a, ref_b = a.ref, b.ref  # type: ignore[attr-defined]
    async with tenancy.strategy.session(ref_a) as session:
        session.add(
            AuditEvent(action="a.secret", detail={"v": 1}, actor="x", created_at=a.created_at)
        )  # type: ignore[attr-defined]
        await session.commit()
    async with tenancy.strategy.session(ref_b) as session:
        actions = (await session.execute(select(AuditEvent.action))).scalars().all()
        assert "a.secret" not in actions
        emails = (await session.execute(select(User.email))).scalars().all()
        assert emails == [f"admin@{ref_b.slug}.example"]
        # a bulk UPDATE through B's session cannot touch A's rows
        await session.execute(update(AuditEvent).values(action="hijacked"))
        await session.commit()
        # nor can B insert a row that claims to be A's
        session.add(
            AuditEvent(tenant_id=ref_a.id, action="forged", detail={}, created_at=b.created_at)
        )  # type: ignore[attr-defined]
        with pytest.raises(TenantIsolationError):
            await session.flush()
        await session.rollback()
    async with tenancy.strategy.session(ref_a) as session:
        actions = sorted((await session.execute(select(AuditEvent.action))).scalars().all())
        assert "a.secret" in actions
        assert "hijacked" not in actions
        assert "forged" not in actions


async def test_plan_suspend_reactivate_domains_branding(tenancy: Tenancy) -> None:
    slug = new_slug()
    await _create(tenancy, slug, plan_tier=PlanTier.STARTER)
    async with tenancy.manager() as manager:
        assert (await manager.get_tenant(slug)).status is TenantStatus.TRIAL
        upgraded = await manager.change_plan(slug, PlanTier.PROFESSIONAL)
        assert upgraded.plan_tier is PlanTier.PROFESSIONAL
        assert upgraded.status is TenantStatus.ACTIVE
        assert upgraded.trial_ends_at is None
        assert (await manager.suspend_tenant(slug, reason="billing")).is_suspended
        assert (await manager.reactivate_tenant(slug)).status is TenantStatus.ACTIVE
        domain = await manager.add_domain(slug, f"app.{slug}.example.com")
        assert not domain.verified
        assert domain.txt_record.endswith(domain.verification_token)
        verified = await manager.verify_domain(slug, domain.domain, token=domain.verification_token)
        assert verified.verified
        branding = await manager.update_branding(
            tenant_id=slug,
            branding_config={"primary_color": "#ff5722", "company_name": "Acme Corporation"},
        )
        assert branding.primary_color == "#FF5722"
        assert (await manager.get_tenant(slug)).branding["company_name"] == "Acme Corporation"
        await manager.remove_domain(slug, domain.domain)
        assert await manager.list_domains(slug) == []


async def test_export_contains_everything_but_secrets(tenancy: Tenancy) -> None:
    slug = new_slug()
    await _create(tenancy, slug, admin_password="hunter2-hunter2")
    async with tenancy.manager() as manager:
        user_id = await manager.create_user(
            slug, email="viewer@x.example", name="Vera", roles=[Role.VIEWER]
        )
        await manager.add_domain(slug, f"{slug}.customers.example.com")
        await manager.update_branding(
            tenant_id=slug, branding_config={"support_email": "help@x.example"}
        )
        exported = json.loads(await manager.export_tenant_json(slug))
    assert exported["tenant"]["slug"] == slug
    assert {u["email"]: u["roles"] for u in exported["users"]} == {
        f"admin@{slug}.example": ["tenant_admin"],
        "viewer@x.example": ["viewer"],
    }
    assert any(u["id"] == user_id for u in exported["users"])
    assert exported["domains"][0]["domain"] == f"{slug}.customers.example.com"
    assert exported["tenant"]["branding"] == {"support_email": "help@x.example"}
    assert {e["action"] for e in exported["audit_events"]} >= {"tenant.created", "user.created"}
    assert {(u["resource"], u["used"]) for u in exported["usage"]} == {("users", 2)}
    assert "password" not in json.dumps(exported)
    assert "hunter2" not in json.dumps(exported)


async def test_delete_removes_all_tenant_data(tenancy: Tenancy) -> None:
    keep = await _create(tenancy, new_slug("k"))
    gone = await _create(tenancy, new_slug("g"))
    gone_slug = gone.slug  # type: ignore[attr-defined]
    async with tenancy.manager() as manager:
        user_id = await manager.create_user(gone_slug, email="u@gone.example", name="U")
        await manager.add_domain(gone_slug, f"{gone_slug}.gone.example.com")
        await manager.delete_tenant(gone_slug)
        with pytest.raises(TenantNotFoundError):
            await manager.get_tenant(gone_slug)
        assert len(await manager.list_users(keep.slug)) == 1  # type: ignore[attr-defined]
    assert await tenancy.user_directory().get_by_id(user_id) is None
    if gone.data_location is not None:  # type: ignore[attr-defined]
        assert not await _location_exists(tenancy, gone.data_location)  # type: ignore[attr-defined]
    async with tenancy.engine.connect() as conn:
        for table in ("rp_tenant_domains", "rp_usage_counters", "rp_user_index"):
            left = (
                await conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                    {"t": gone.id},  # type: ignore[attr-defined]
                )
            ).scalar_one()
            assert left == 0, table
        if tenancy.strategy.kind == "shared":
            for table in ("rp_users", "rp_role_assignments", "rp_audit_events"):
                await conn.execute(
                    text("SELECT set_config('relaypoint.tenant_id', :t, true)")
                    if conn.dialect.name == "postgresql"
                    else text("SELECT 1"),
                    {"t": gone.id} if conn.dialect.name == "postgresql" else {},
                )  # type: ignore[attr-defined]
                left = (
                    await conn.execute(
                        text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                        {"t": gone.id},  # type: ignore[attr-defined]
                    )
                ).scalar_one()
                assert left == 0, table


@pytest.mark.postgres
@pytest.mark.parametrize("strategy_target", ["pg-shared-rls"], indirect=True)
async def test_row_level_security_holds_without_the_orm(
    strategy_target: StrategyTarget, fake_clock: FakeClock
) -> None:
    strategy = build_strategy(strategy_target, pool=1)  # one connection: the next user is us
    tenancy = Tenancy(strategy.engine, strategy, clock=fake_clock)
    await tenancy.install()
    try:
        await _check_rls(tenancy)
    finally:
        await tenancy.dispose()


async def _check_rls(tenancy: Tenancy) -> None:
    a = await _create(tenancy, new_slug("r"))
    b = await _create(tenancy, new_slug("s"))
    ref_a, ref_b = a.ref, b.ref  # type: ignore[attr-defined]
    async with tenancy.strategy.session(ref_a) as session:
        seen = (
            (await session.execute(text("SELECT DISTINCT tenant_id FROM rp_users"))).scalars().all()
        )
        assert seen == [ref_a.id]
        role = (await session.execute(text("SELECT current_user"))).scalar_one()
        assert role == tenancy.strategy.rls_role  # type: ignore[attr-defined]
        # a raw INSERT naming another tenant is refused by the policy's WITH CHECK
        with pytest.raises(Exception, match="row-level security"):
            await session.execute(
                text(
                    "INSERT INTO rp_audit_events (tenant_id, action, detail, created_at) "
                    "VALUES (:t, 'forged', '{}', now())"
                ),
                {"t": ref_b.id},
            )
        await session.rollback()
    # the pooled connection went back without the role or the tenant setting
    async with tenancy.engine.connect() as conn:
        user, setting = (
            await conn.execute(
                text("SELECT current_user, current_setting('relaypoint.tenant_id', true)")
            )
        ).one()
        assert user != tenancy.strategy.rls_role  # type: ignore[attr-defined]
        assert setting in (None, "")


@pytest.mark.postgres
@pytest.mark.parametrize("strategy_target", ["pg-schema"], indirect=True)
async def test_schema_sessions_leave_no_search_path_behind(
    strategy_target: StrategyTarget, fake_clock: FakeClock
) -> None:
    strategy = build_strategy(strategy_target, pool=1)
    tenancy = Tenancy(strategy.engine, strategy, clock=fake_clock)
    await tenancy.install()
    try:
        tenant = await _create(tenancy, new_slug("p"))
        async with tenancy.strategy.session(tenant.ref) as session:  # type: ignore[attr-defined]
            assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1
        async with tenancy.engine.connect() as conn:  # the same, only pooled connection
            path = (await conn.execute(text("SHOW search_path"))).scalar_one()
            assert tenant.data_location not in path  # type: ignore[attr-defined]
            assert (await conn.execute(text("SELECT to_regclass('rp_users')"))).scalar() is None
    finally:
        await tenancy.dispose()


async def test_orm_statements_cannot_write_another_tenants_id(sqlite_tenancy: Tenancy) -> None:
    from sqlalchemy import insert

    a = await _create(sqlite_tenancy, new_slug("w"))
    b = await _create(sqlite_tenancy, new_slug("v"))
    ref_a, ref_b = a.ref, b.ref  # type: ignore[attr-defined]
    row = {"action": "x", "detail": {}, "created_at": a.created_at}  # type: ignore[attr-defined]
    async with sqlite_tenancy.strategy.session(ref_a) as session:
        with pytest.raises(TenantIsolationError):
            await session.execute(insert(AuditEvent).values(tenant_id=ref_b.id, **row))
        with pytest.raises(TenantIsolationError):
            await session.execute(insert(AuditEvent), [{"tenant_id": ref_b.id, **row}])
        with pytest.raises(TenantIsolationError):
            await session.execute(insert(AuditEvent), {"tenant_id": ref_b.id, **row})
        with pytest.raises(TenantIsolationError):
            await session.execute(update(AuditEvent).values(tenant_id=ref_b.id))
        await session.rollback()
        await session.execute(insert(AuditEvent), {"tenant_id": ref_a.id, **row})
        await session.execute(insert(AuditEvent).values(tenant_id=ref_a.id, **row))
        await session.execute(insert(AuditEvent), [{"tenant_id": ref_a.id, **row}])
        await session.commit()
    async with sqlite_tenancy.strategy.session(ref_b) as session:
        assert "x" not in (await session.execute(select(AuditEvent.action))).scalars().all()
    async with sqlite_tenancy.strategy.session(ref_a) as session:
        assert (await session.execute(select(AuditEvent.action))).scalars().all().count("x") == 3
