"""Storage keys of the rate limiter, built on the shared ``KeyScheme``.

Every key of one request shares one Redis Cluster hash tag, so the single script call that checks
them is valid on a cluster: the tenant's tag (``{t==acme}``) when the request has a tenant, else a
tag of the subject itself (``{s=u=42}`` or ``{s=ip=10.0.0.1}``). Every part is escaped, so no user
id or tenant id can forge a separator or a tag and land in someone else's counters.
"""

from __future__ import annotations

from relaypoint_core.keys import DEFAULT_KEY_PREFIX, KeyScheme, escape_key_part
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.policies import Window

__all__ = ["RateLimitKeys"]


class RateLimitKeys:
    """Key builder: ``<prefix>rl:{tag}:u:<user>:w<us>b<us>``, ``...:t:w..``, ``...:r:<name>:...``."""

    __slots__ = ("scheme",)

    def __init__(self, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.scheme = KeyScheme("rl", prefix)

    def base(self, tenant_id: str | None, user_key: str, anonymous: bool) -> str:
        if tenant_id is not None:
            return self.scheme.tenant_prefix(tenant_id)
        subject = ("ip=" if anonymous else "u=") + user_key
        return self.scheme.component_prefix() + "{s=" + escape_key_part(subject) + "}:"

    @staticmethod
    def _user_part(identity: Identity) -> str:
        return ("ip:" if identity.anonymous else "u:") + escape_key_part(identity.user_key)

    def user_window(self, identity: Identity, window: Window) -> str:
        base = self.base(identity.tenant_id, identity.user_key, identity.anonymous)
        return f"{base}{self._user_part(identity)}:{window.storage_id}"

    def tenant_window(self, identity: Identity, window: Window) -> str:
        base = self.base(identity.tenant_id, identity.user_key, identity.anonymous)
        return f"{base}t:{window.storage_id}"

    def route_window(self, identity: Identity, route: str, per: str, window: Window) -> str:
        base = self.base(identity.tenant_id, identity.user_key, identity.anonymous)
        subject = "t" if per == "tenant" else self._user_part(identity)
        return f"{base}r:{escape_key_part(route)}:{subject}:{window.storage_id}"

    def user_tier(self, identity: Identity) -> str:
        base = self.base(identity.tenant_id, identity.user_key, identity.anonymous)
        return f"{base}tier:{self._user_part(identity)}"

    def concurrency(self, identity: Identity, policy: str, per: str) -> str:
        """The lease set of one concurrency policy for the identity's user or whole tenant."""
        base = self.base(identity.tenant_id, identity.user_key, identity.anonymous)
        subject = "t" if per == "tenant" else self._user_part(identity)
        return f"{base}c:{escape_key_part(policy)}:{subject}"
