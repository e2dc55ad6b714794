"""Real-time: tenant-aware Socket.IO, authenticated for the life of each connection.

`RealtimeServer` runs on python-socketio's ASGI engine (install `relaypoint[realtime]`; add
`relaypoint[redis]` to fan out across instances). Importing this package imports neither.
"""

from __future__ import annotations

from relaypoint_core.realtime.admission import Admission, TenantVerifier
from relaypoint_core.realtime.credentials import (
    AccessTokenAuthenticator,
    ConnectionAuthenticator,
    CredentialAuthenticator,
    claimed_tenant,
    credential_from,
    expires_at,
)
from relaypoint_core.realtime.errors import (
    ConnectionRefused,
    RealtimeConfigurationError,
    RealtimeError,
)
from relaypoint_core.realtime.lifetime import Lease, LeaseState, LeaseTracker, Notice, SweepResult
from relaypoint_core.realtime.metrics import (
    REFUSAL_CODES,
    RealtimeMetrics,
    default_realtime_metrics,
)
from relaypoint_core.realtime.rooms import (
    TenantChannel,
    role_room,
    rooms_of,
    tenant_room,
    user_room,
)
from relaypoint_core.realtime.server import REFRESH_EVENT, RealtimeServer
from relaypoint_core.realtime.session import Connection, EventHandler

__all__ = [
    "REFRESH_EVENT",
    "REFUSAL_CODES",
    "AccessTokenAuthenticator",
    "Admission",
    "Connection",
    "ConnectionAuthenticator",
    "ConnectionRefused",
    "CredentialAuthenticator",
    "EventHandler",
    "Lease",
    "LeaseState",
    "LeaseTracker",
    "Notice",
    "RealtimeConfigurationError",
    "RealtimeError",
    "RealtimeMetrics",
    "RealtimeServer",
    "SweepResult",
    "TenantChannel",
    "TenantVerifier",
    "claimed_tenant",
    "credential_from",
    "default_realtime_metrics",
    "expires_at",
    "role_room",
    "rooms_of",
    "tenant_room",
    "user_room",
]
