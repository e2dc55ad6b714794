"""Live reference-app servers for the end-to-end tests: real uvicorn processes on loopback.

``live_app`` runs ``python -m examples.app`` (the README's entry point) in a subprocess on a free
port, once per module and backend: ``embedded`` (SQLite file in a temporary directory + memory
backends) and ``servers`` (a private PostgreSQL database created and dropped here + the shared
Redis under a unique key prefix, removed afterwards).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_service
from tests.support.services import POSTGRES_URL, REDIS_URL, delete_redis_prefix, free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "relaypoint-demo"
ARTIFACTS = ROOT / "tmp" / "artifacts"
ALLOWED_ORIGIN = "https://app.acme.example"


@dataclass
class LiveApp:
    backend: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    _sessions: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=15.0, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def session(self, email: str, tenant: str | None = None) -> dict[str, str]:
        """A demo user's tokens, signed in once per server (for tests that never end the session;
        every Argon2 verification costs real time on a loaded machine)."""
        key = (email, tenant)
        if key not in self._sessions:
            self._sessions[key] = self.login(email, tenant)
        return self._sessions[key]

    def login(
        self, email: str, tenant: str | None = None, password: str = DEMO_PASSWORD
    ) -> dict[str, str]:
        headers = {"X-Tenant-ID": tenant} if tenant else {}
        with self.client() as client:
            response = client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
            )
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        return tokens


def _wait_until_live(app: LiveApp, deadline_seconds: float = 120.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"reference app exited with {app.process.returncode}:\n{app.log()}")
        # The port came from free_port() and was released before uvicorn bound it: only trust
        # an answer once our own process says it is serving there (another process may hold it).
        if f"Uvicorn running on {app.base_url}" not in app.log():
            time.sleep(0.1)
            continue
        try:
            if httpx.get(f"{app.base_url}/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"reference app did not become ready:\n{app.log()}")


def start_app(
    backend: str, workdir: Path, extra_env: dict[str, str], module: str = "examples.app"
) -> LiveApp:
    port = free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                (
                    "RELAYPOINT_",
                    "DATABASE_URL",
                    "REDIS_URL",
                    "SECRET_KEY",
                    "ENVIRONMENT",
                    "PROMETHEUS_MULTIPROC_DIR",
                    "prometheus_multiproc_dir",
                )
            )
        },
        "ENVIRONMENT": "development",
        "RELAYPOINT_HOST": "127.0.0.1",
        "RELAYPOINT_PORT": str(port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'app.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        # Every test talks from 127.0.0.1: logins and dashboard assets are anonymous, so give
        # them room; tenant and user limits (the subject of the tests) are unchanged.
        "RELAYPOINT_ANONYMOUS_TIER": "ENTERPRISE",
        "CORS_ORIGINS": ALLOWED_ORIGIN,
        **extra_env,
    }
    log_path = workdir / "server.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    app = LiveApp(backend, f"http://127.0.0.1:{port}", process, log_path, env)
    try:
        _wait_until_live(app)
    except Exception:
        stop_app(app)
        raise
    return app


def stop_app(app: LiveApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=15)


def _postgres_admin(statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def embedded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The reference app on its embedded defaults: SQLite file + in-process memory backends."""
    app = start_app("embedded", tmp_path_factory.mktemp("app-embedded"), {})
    try:
        yield app
    finally:
        stop_app(app)


@pytest.fixture(scope="session")
def servers_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The reference app on a private PostgreSQL database (created and dropped here) and the
    shared Redis under a unique key prefix (its keys removed afterwards)."""
    require_service("postgres")
    require_service("redis")
    database = f"rp_e2e_{uuid.uuid4().hex[:12]}"
    prefix = f"rpt{uuid.uuid4().hex[:12]}:"
    _postgres_admin(f'CREATE DATABASE "{database}"')
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    extra = {
        "DATABASE_URL": f"{base}/{database}",
        "REDIS_URL": REDIS_URL,
        "RELAYPOINT_KEY_PREFIX": prefix,
    }
    try:
        app = start_app("servers", tmp_path_factory.mktemp("app-servers"), extra)
        try:
            yield app
        finally:
            stop_app(app)
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        delete_redis_prefix(REDIS_URL, prefix)


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("servers", marks=[pytest.mark.redis, pytest.mark.postgres]),
    ],
)
def live_app(request: pytest.FixtureRequest) -> LiveApp:
    """Runs a test against both servers (one per backend for the whole session): the same
    behaviour is expected on embedded defaults and on PostgreSQL + Redis. Tests create their own
    workflows and tenants, so they do not depend on each other's traffic."""
    app: LiveApp = request.getfixturevalue(f"{request.param}_app")
    return app
