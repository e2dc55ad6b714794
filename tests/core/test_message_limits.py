"""The message-limit contract: a plain class with the right method is a MessageLimiter."""

from __future__ import annotations

from relaypoint_core import MessageLimiter, MessageVerdict, Principal, ResolvedTenant


class _OnePerEvent:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def check_message(
        self,
        principal: Principal,
        event: str,
        *,
        tenant: ResolvedTenant | None = None,
        cost: int = 1,
    ) -> MessageVerdict:
        key = (principal.user_id, event)
        if key in self.seen:
            return MessageVerdict(allowed=False, retry_after=1.0, policy="one-per-event")
        self.seen.add(key)
        return MessageVerdict(allowed=True, remaining=0)


async def test_a_structural_implementation_satisfies_the_protocol() -> None:
    limiter = _OnePerEvent()
    assert isinstance(limiter, MessageLimiter)
    principal = Principal(user_id="u1", tenant_id="acme")
    first = await limiter.check_message(principal, "chat")
    second = await limiter.check_message(principal, "chat")
    assert first.allowed
    assert first.retry_after is None
    assert not second.allowed
    assert second.policy == "one-per-event"


def test_an_object_without_check_message_is_not_a_limiter() -> None:
    assert not isinstance(object(), MessageLimiter)
