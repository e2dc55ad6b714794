"""The demo data created on first start: ``acme`` (PROFESSIONAL) with one user per role, and
``globex`` (FREE) so that tenant isolation can be seen. Idempotent: an existing tenant is kept."""

from __future__ import annotations

from dataclasses import dataclass

from examples.app.domain import WorkflowRepository, WorkflowStatus
from examples.app.runtime import Runtime
from relaypoint_core.rbac import Role
from relaypoint_tenancy import Tenancy, TenantInfo

__all__ = ["DEMO_TENANTS", "DemoTenant", "demo_email", "seed_demo"]


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    plan_tier: str
    roles: tuple[Role, ...]
    branding: dict[str, str]
    workflows: tuple[str, ...]


DEMO_TENANTS = (
    DemoTenant(
        slug="acme",
        name="Acme Corp",
        plan_tier="PROFESSIONAL",
        roles=tuple(Role),
        branding={
            "primary_color": "#FF5722",
            "secondary_color": "#00BCD4",
            "company_name": "Acme Corporation",
            "support_email": "support@acme.example",
        },
        workflows=("Invoice approval", "Customer onboarding", "Nightly report"),
    ),
    DemoTenant(
        slug="globex",
        name="Globex",
        plan_tier="FREE",
        # The FREE plan allows three users.
        roles=(Role.TENANT_ADMIN, Role.USER, Role.VIEWER),
        branding={
            "primary_color": "#2E7D32",
            "secondary_color": "#FFC107",
            "company_name": "Globex Corporation",
            "support_email": "help@globex.example",
        },
        workflows=("Lead qualification",),
    ),
)


def demo_email(role: Role | str, slug: str) -> str:
    return f"{role}@{slug}.example"


async def seed_demo(runtime: Runtime, password: str) -> list[str]:
    """Create the demo tenants that do not exist yet; returns what was created, for the banner."""
    tenants = runtime.tenants
    created: list[str] = []
    for demo in DEMO_TENANTS:
        if await tenants.get_tenant(demo.slug) is not None:
            continue
        tenant = await runtime.create_tenant(
            name=demo.name,
            slug=demo.slug,
            plan_tier=demo.plan_tier,
            admin_email=demo_email(Role.TENANT_ADMIN, demo.slug),
            admin_name=f"{demo.name} admin",
            admin_password=password,
        )
        for role in demo.roles:
            if role is Role.TENANT_ADMIN:
                continue
            await tenants.create_user(
                tenant.id,
                email=demo_email(role, demo.slug),
                name=f"{demo.name} {role.value.replace('_', ' ')}",
                password=password,
                roles=[role.value],
            )
        tenant = await tenants.update_branding(tenant.id, demo.branding, actor="seed")
        await _seed_workflows(tenants, tenant, demo)
        created.append(demo.slug)
    return created


async def _seed_workflows(tenants: Tenancy, tenant: TenantInfo, demo: DemoTenant) -> None:
    for name in demo.workflows:
        await tenants.consume_quota(tenant.id, "workflows", 1)
        async with tenants.transaction(tenant) as session:
            await WorkflowRepository(session, tenant.id).create(
                name=name,
                description=f"Demo workflow of {demo.name}",
                status=WorkflowStatus.ACTIVE.value,
                steps=[
                    {"name": "greet", "action": "uppercase", "input": f"hello from {demo.slug}"},
                    {"name": "measure", "action": "length", "input": name},
                ],
                created_by="seed",
            )
