"""One process of the multi-process test: hammer one user on Redis, print what the server decided.

Run as ``python -m tests.ratelimit.hammer URL PREFIX TENANT START_AT DURATION``. Prints one JSON
list of ``[server_time_us, admitted]`` pairs, in the order the checks completed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from prometheus_client import CollectorRegistry

from relaypoint_ratelimit import Identity, RateLimiter
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.multiprocess_tiers import TIERS

TASKS_PER_PROCESS = 4


async def main(url: str, prefix: str, tenant: str, start_at: float, duration: float) -> None:
    limiter = RateLimiter(
        url,
        tiers=TIERS,
        default_tier="USER",
        default_tenant_tier="TENANT",
        key_prefix=prefix,
        timeout=5,
        metrics=RateLimitMetrics(CollectorRegistry()),
        memo_refusals=False,  # every refusal carries the exact server time it was decided at
    )
    await limiter.startup()
    who = Identity("hammered", tenant_id=tenant)
    log: list[tuple[int, bool]] = []
    await asyncio.sleep(max(0.0, start_at - time.time()))
    stop = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < stop:
            decision = await limiter.check(who)
            if decision.source != "backend":
                raise SystemExit(f"unexpected decision source {decision.source}")
            log.append((decision.clock_us, decision.allowed))

    await asyncio.gather(*(worker() for _ in range(TASKS_PER_PROCESS)))
    await limiter.aclose()
    json.dump(log, sys.stdout)


if __name__ == "__main__":
    url, prefix, tenant, start_at, duration = sys.argv[1:6]
    asyncio.run(main(url, prefix, tenant, float(start_at), float(duration)))
