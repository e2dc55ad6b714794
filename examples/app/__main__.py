"""Run the reference app: ``python -m examples.app`` (host/port from RELAYPOINT_HOST/PORT)."""

from __future__ import annotations

import os

import uvicorn


def main() -> None:
    host = os.environ.get("RELAYPOINT_HOST", "127.0.0.1")
    port = int(os.environ.get("RELAYPOINT_PORT", "8000"))
    print(f"RelayPoint reference app on http://{host}:{port}  (docs at /docs)", flush=True)
    uvicorn.run("examples.app.main:create_app", factory=True, host=host, port=port)


if __name__ == "__main__":
    main()
