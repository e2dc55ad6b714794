"""Another app process for the API-key revocation test, on a fake clock driven over stdin:
``verify <key>`` prints ``ok`` or the error class, ``advance <seconds>`` moves the clock."""

from __future__ import annotations

import asyncio
import sys

from relaypoint_core.auth import ApiKeyService, create_api_key_store
from relaypoint_core.errors import RelayPointError
from relaypoint_core.testing import FakeClock


async def main(url: str, prefix: str) -> None:
    clock = FakeClock()
    service = ApiKeyService(create_api_key_store(url, key_prefix=prefix), clock=clock)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        command, _, argument = line.partition(" ")
        if command == "advance":
            clock.advance(float(argument))
            print("advanced", flush=True)
            continue
        try:
            principal = await service.verify(argument)
            print(f"ok {principal.user_id}", flush=True)
        except RelayPointError as exc:
            print(type(exc).__name__, flush=True)
    await service.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
