"""Application factory of the reference app (grows into the full tour with the reference-app issue)."""

from __future__ import annotations

from fastapi import FastAPI

from relaypoint_core import __version__


def create_app() -> FastAPI:
    app = FastAPI(title="RelayPoint reference app", version=__version__)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    return app
