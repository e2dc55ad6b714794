"""Who may change a tenant's plan: upgrades are paid for, downgrades are self-service.

Permission to manage billing (``billing:*``, which a ``tenant_admin`` holds) is not permission to
get a higher plan for free. `PlanChangePolicy` lets anyone with that permission move to the
same or a lower tier, and allows an upgrade only when the caller holds one of ``upgrade_roles``
(``super_admin`` by default) or a `BillingHook` approves it (payment taken, contract
signed, ...). A refusal is `PlanChangeDeniedError` (HTTP 403).

The other half of the policy lives in ``TenantManager.change_plan``: a downgrade starts the new
plan's monthly allowances afresh, so usage counted under the higher tier cannot lock the tenant
out of the lower one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy.errors import PlanChangeDeniedError
from relaypoint_tenancy.plans import PlanTier

__all__ = ["BillingHook", "PlanChange", "PlanChangePolicy"]


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A requested move of ``tenant`` from ``current`` to ``requested``, by ``actor``."""

    tenant: str
    current: PlanTier
    requested: PlanTier
    actor: str | None = None
    actor_roles: tuple[str, ...] = ()

    @property
    def is_upgrade(self) -> bool:
        return self.requested.rank > self.current.rank


@runtime_checkable
class BillingHook(Protocol):
    """Approves a paid upgrade, e.g. by checking a payment provider's subscription."""

    async def approve_upgrade(self, change: PlanChange) -> bool:
        """Whether ``change`` (an upgrade) is paid for or otherwise approved."""
        ...


class PlanChangePolicy:
    """Decides whether a caller may make a plan change (see the module docstring)."""

    def __init__(
        self,
        *,
        billing: BillingHook | None = None,
        upgrade_roles: Iterable[str | Role] = (Role.SUPER_ADMIN,),
    ) -> None:
        self.billing = billing
        self.upgrade_roles = frozenset(str(role) for role in upgrade_roles)

    async def authorize(self, change: PlanChange) -> None:
        """Allow ``change`` or raise.

        Args:
            change: The requested plan change and who asks for it.

        Raises:
            PlanChangeDeniedError: ``change`` is an upgrade, the caller holds none of
                ``upgrade_roles`` and no billing hook approved it.
        """
        if not change.is_upgrade or self.upgrade_roles.intersection(change.actor_roles):
            return
        if self.billing is not None and await self.billing.approve_upgrade(change):
            return
        raise PlanChangeDeniedError(change.current.value, change.requested.value)
