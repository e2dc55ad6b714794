"""A process that takes one concurrency lease on Redis, says so, and holds it until killed."""

from __future__ import annotations

import asyncio
import json
import sys

from relaypoint_ratelimit import Identity
from relaypoint_ratelimit.backends.redis import RedisBackend
from relaypoint_ratelimit.concurrency import ConcurrencyLimiter, ConcurrencyPolicy
from relaypoint_ratelimit.keys import RateLimitKeys


async def main(url: str, prefix: str, user: str, lease_seconds: float) -> None:
    backend = RedisBackend(url)
    leases = ConcurrencyLimiter(backend, keys=RateLimitKeys(prefix))
    policy = ConcurrencyPolicy("jobs", 1, lease_seconds=lease_seconds)
    async with leases.hold(Identity(user), policy) as lease:
        print(json.dumps({"granted": lease.granted, "clock_us": lease.clock_us}), flush=True)
        await asyncio.Event().wait()  # hold (and renew) until the process is killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
