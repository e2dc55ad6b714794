"""One process of the multi-process tests: hammer one user on Redis, print what was decided.

Run as ``python -m tests.ratelimit.hammer URL PREFIX TENANT START_AT DURATION [LEASE USER_LIMIT
TENANT_LIMIT TASKS]``. Without the optional arguments it uses ``multiprocess_tiers`` and exact
checks; with them, quota leasing of fraction ``LEASE`` (0: off) on a 1 s user window of
``USER_LIMIT`` and a 2 s tenant window of ``TENANT_LIMIT``, from ``TASKS`` concurrent tasks.
Prints one JSON object: ``log``, a list of ``[server_time_us, admitted]`` pairs in the order the
checks completed, and ``grants``, the lease calls made.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from prometheus_client import CollectorRegistry

from relaypoint_ratelimit import Identity, RateLimiter, Tier, TierSet, Window
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.ratelimit.multiprocess_tiers import TIERS

TASKS_PER_PROCESS = 4


def leased_tiers(user_limit: int, tenant_limit: int) -> TierSet:
    """The tiers of a leasing run (the same shape as ``multiprocess_tiers``)."""
    return TierSet(
        [
            Tier("USER", [Window(user_limit, 1.0, name="short", buckets=8)]),
            Tier("TENANT", [Window(tenant_limit, 2.0, name="long", buckets=10)]),
        ]
    )


async def main(
    url: str,
    prefix: str,
    tenant: str,
    start_at: float,
    duration: float,
    extra: list[str],
) -> None:
    lease, tiers, tasks = 0.0, TIERS, TASKS_PER_PROCESS
    if extra:
        lease, tiers, tasks = (
            float(extra[0]),
            leased_tiers(int(extra[1]), int(extra[2])),
            int(extra[3]),
        )
    limiter = RateLimiter(
        url,
        tiers=tiers,
        default_tier="USER",
        default_tenant_tier="TENANT",
        key_prefix=prefix,
        timeout=5,
        metrics=RateLimitMetrics(CollectorRegistry()),
        memo_refusals=False,  # every refusal carries the exact server time it was decided at
        quota_lease=lease,
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

    await asyncio.gather(*(worker() for _ in range(tasks)))
    grants = limiter.leases.grants if limiter.leases is not None else len(log)
    await limiter.aclose()
    json.dump({"log": log, "grants": grants}, sys.stdout)


if __name__ == "__main__":
    url, prefix, tenant, start_at, duration = sys.argv[1:6]
    asyncio.run(main(url, prefix, tenant, float(start_at), float(duration), sys.argv[6:]))
