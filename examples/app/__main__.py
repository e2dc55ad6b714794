"""Run the reference app: ``python -m examples.app`` (host/port from RELAYPOINT_HOST/PORT).

Configuration errors (a weak SECRET_KEY in production, a bad URL) stop the process here with
the message that says what to fix, before uvicorn starts.
"""

from __future__ import annotations

import sys

import uvicorn

from examples.app.server import load_server_limits
from examples.app.settings import load_app_config
from relaypoint_core.errors import ConfigurationError


def main() -> int:
    try:
        config = load_app_config()
        limits = load_server_limits()
    except ConfigurationError as exc:
        print(f"RelayPoint reference app cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    print(
        f"RelayPoint reference app on http://{config.host}:{config.port}  (API docs at /docs)",
        flush=True,
    )
    uvicorn.run(
        "examples.app.main:create_app",
        factory=True,
        host=config.host,
        port=config.port,
        proxy_headers=bool(config.trusted_proxies),
        forwarded_allow_ips=",".join(config.trusted_proxies) or None,
        log_level="info",
        timeout_graceful_shutdown=20,
        **limits.uvicorn_options(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
