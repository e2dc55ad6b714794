"""A separate app process for the multi-process refresh test: waits for 'go' on stdin, then
refreshes the same token N times concurrently and prints the refresh tokens it got as JSON."""

from __future__ import annotations

import asyncio
import json
import sys

from relaypoint_core.audit import NullAuditLog
from relaypoint_core.auth import AuthService, KeyRing, TokenPair, create_token_store


async def main(url: str, prefix: str, secret: str, token: str, count: int) -> None:
    service = AuthService(
        keys=KeyRing.from_secret(secret),
        store=create_token_store(url, key_prefix=prefix),
        audit=NullAuditLog(),
    )
    await service.store.epoch()  # connect before the start signal
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    results = await asyncio.gather(
        *(service.refresh(token) for _ in range(count)), return_exceptions=True
    )
    print(
        json.dumps(
            [r.refresh_token if isinstance(r, TokenPair) else type(r).__name__ for r in results]
        ),
        flush=True,
    )
    await service.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
