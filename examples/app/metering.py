"""Counting API calls against each tenant's monthly ``api_calls`` quota, without a database
write per request.

Calls are counted in process and flushed every ``interval`` seconds by a background task, in
one transaction for all tenants (``Tenancy.consume_quotas``: one SELECT of the tenants and one
atomic ``UPDATE ... SET used = used + n`` for all of them), and once more at shutdown, so nothing counted is
lost and no request waits for the write. When a flush finds the quota exhausted, the tenant is marked and
its next calls are refused (403 problem+json, like any other exhausted quota) until a flush
succeeds again (a plan upgrade, an override, or a new month). The price of batching is that a
tenant can exceed its monthly quota by at most one interval's worth of calls, a bound stated
here rather than hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from relaypoint_tenancy import QuotaExceeded, Tenancy

__all__ = ["ApiCallMeter"]

logger = logging.getLogger("examples.app")
RESOURCE = "api_calls"


class ApiCallMeter:
    def __init__(self, tenants: Tenancy, *, interval: float = 2.0) -> None:
        self.tenants = tenants
        self.interval = interval
        self._pending: Counter[str] = Counter()
        self._exhausted: dict[str, QuotaExceeded] = {}
        self._task: asyncio.Task[None] | None = None

    def count(self, tenant_id: str) -> None:
        """Count one call of ``tenant_id`` (the tenant's id); raises if its quota is exhausted."""
        exhausted = self._exhausted.get(tenant_id)
        if exhausted is not None:
            raise exhausted
        self._pending[tenant_id] += 1

    async def flush(self) -> None:
        pending, self._pending = self._pending, Counter()
        outcome: dict[str, object] = {}
        if pending:
            try:
                outcome = dict(await self.tenants.consume_quotas(RESOURCE, pending))
            except Exception:
                # The database is down or busy: keep the calls for the next flush.
                logger.exception("could not record the API calls of %d tenants", len(pending))
                self._pending.update(pending)
                return
        refused: dict[str, QuotaExceeded] = {}
        for tenant_id, result in outcome.items():
            if isinstance(result, QuotaExceeded):
                refused[tenant_id] = result
                if tenant_id not in self._exhausted:
                    logger.warning(
                        "tenant %s exhausted its monthly API calls: %s", tenant_id, result
                    )
                self._exhausted[tenant_id] = result
            elif isinstance(result, Exception):  # deleted meanwhile: nothing left to count
                logger.info("API calls of tenant %s not recorded: %s", tenant_id, result)
            else:
                self._exhausted.pop(tenant_id, None)
        await self._fill_up(refused)
        for tenant_id in list(self._exhausted):
            if tenant_id not in pending:
                await self._recheck(tenant_id)

    async def _fill_up(self, refused: dict[str, QuotaExceeded]) -> None:
        """Count what still fits of each refused batch, so usage ends exactly at the limit.

        One more ``consume_quotas`` for all of them; a tenant whose room a concurrent writer
        took first is refused again, which leaves it at its limit too.
        """
        room = {tenant_id: exc.limit - exc.used for tenant_id, exc in refused.items()}
        room = {tenant_id: amount for tenant_id, amount in room.items() if amount > 0}
        if room:
            await self.tenants.consume_quotas(RESOURCE, room)

    async def _recheck(self, tenant_id: str) -> None:
        """Let an exhausted tenant through again once its limit allows (upgrade, new month)."""
        try:
            usage = await self.tenants.get_usage(tenant_id)
        except Exception:
            logger.exception("could not re-check the API-call quota of tenant %s", tenant_id)
            return
        item = usage.get(RESOURCE)
        if item is not None and (item.limit is None or item.used < item.limit):
            self._exhausted.pop(tenant_id, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="api-call-meter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
