"""Per-message limits for WebSocket and Socket.IO, through the same policies as HTTP.

``MessageRateLimiter`` implements ``relaypoint_core.message_limits.MessageLimiter``: a transport
asks it once per inbound message. Each event name maps to a ``RoutePolicy`` (``"*"`` for every
other event); a message is counted in its event's windows (and, with ``include_tiers``, in the
caller's HTTP tier windows as well) in one backend call, and a refusal consumes nothing.

::

    messages = MessageRateLimiter(
        limiter,
        {"chat.send": RoutePolicy("ws.chat", "20/10s"), "*": RoutePolicy("ws.any", "120/minute")},
    )
    verdict = await messages.check_message(principal, "chat.send", tenant=tenant)
"""

from __future__ import annotations

from collections.abc import Mapping

from relaypoint_core.message_limits import MessageLimiter, MessageVerdict
from relaypoint_core.request_state import Principal, ResolvedTenant
from relaypoint_ratelimit.engine import RateLimiter
from relaypoint_ratelimit.errors import RateLimitConfigurationError
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.policies import RoutePolicy

__all__ = ["MessageRateLimiter"]

_MAX_IDENTITIES = 50_000


class MessageRateLimiter(MessageLimiter):
    """Counts inbound messages of verified callers against per-event policies."""

    def __init__(
        self,
        limiter: RateLimiter,
        policies: Mapping[str, RoutePolicy] | RoutePolicy,
        *,
        include_tiers: bool = False,
        tier_claim: str | None = "tier",
    ) -> None:
        """Create the message limiter.

        Args:
            limiter: The limiter (and backend) the counters live in.
            policies: One policy for every event, or event name -> policy (``"*"``: the rest).
            include_tiers: Whether messages also count against the caller's HTTP tier windows.
            tier_claim: The principal's claim naming its tier, as for HTTP requests.

        Raises:
            RateLimitConfigurationError: A policy is not a ``RoutePolicy``.
        """
        self.limiter = limiter
        mapping = {"*": policies} if isinstance(policies, RoutePolicy) else dict(policies)
        if not all(isinstance(p, RoutePolicy) for p in mapping.values()):
            raise RateLimitConfigurationError("message policies must be RoutePolicy objects")
        self.policies: dict[str, RoutePolicy] = mapping
        self.include_tiers = include_tiers
        self.tier_claim = tier_claim
        limiter.register_routes(list(mapping.values()))
        self._identities: dict[tuple[object, ...], Identity] = {}

    def policy_for(self, event: str) -> RoutePolicy | None:
        """The policy counting ``event``: its own, else ``"*"``, else none (not limited)."""
        return self.policies.get(event) or self.policies.get("*")

    def identity(self, principal: Principal, tenant: ResolvedTenant | None) -> Identity:
        """Whose counters a message of ``principal`` counts in (as for the same caller's HTTP)."""
        hint = principal.claims.get(self.tier_claim) if self.tier_claim else None
        tenant_id = tenant.tenant_id if tenant is not None else principal.tenant_id
        tenant_tier = tenant.plan_tier if tenant is not None else None
        key = (principal.user_id, tenant_id, tenant_tier, hint if isinstance(hint, str) else None)
        identity = self._identities.get(key)
        if identity is None:
            identity = Identity(
                principal.user_id,
                tenant_id,
                tenant_tier,
                hint if isinstance(hint, str) else None,
            )
            if len(self._identities) >= _MAX_IDENTITIES:
                self._identities.clear()
            self._identities[key] = identity
        return identity

    async def check_message(
        self,
        principal: Principal,
        event: str,
        *,
        tenant: ResolvedTenant | None = None,
        cost: int = 1,
    ) -> MessageVerdict:
        """Count one message of ``event`` and say whether it may be handled.

        Args:
            principal: The caller verified when the connection was made.
            event: The inbound event name.
            tenant: The connection's verified tenant.
            cost: Units the message consumes.

        Returns:
            The verdict; a refusal consumes nothing.
        """
        policy = self.policy_for(event)
        if policy is None and not self.include_tiers:
            return MessageVerdict(True)
        identity = self.identity(principal, tenant)
        decision = self.limiter.check_now(
            identity, cost=cost, route=policy, include_tiers=self.include_tiers
        )
        if decision is None:
            decision = await self.limiter.check(
                identity, cost=cost, route=policy, include_tiers=self.include_tiers
            )
        top = decision.most_constraining
        remaining = top.remaining if top is not None else None
        if decision.allowed:
            return MessageVerdict(True, remaining=remaining)
        violated = decision.violated
        name = violated[0].name if violated else (policy.name if policy is not None else None)
        return MessageVerdict(False, decision.retry_after or 1.0, name, remaining)
