"""Real service processes for tests: availability probes, private Redis servers, a local cluster.

Tests never mock Redis or PostgreSQL. The shared servers on loopback serve most tests (each test
under its own key prefix); fault tests and cluster tests start ``redis-server`` processes of their
own on free ports and stop them afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REDIS_URL = os.environ.get("RELAYPOINT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "RELAYPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port(max_port: int = 65535) -> int:
    """A free loopback port no higher than ``max_port``."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port <= max_port:
            return port
    raise RuntimeError(f"no free loopback port at or below {max_port}")


def _tcp_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def delete_redis_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (incremental SCAN, batched DELETE; never KEYS or FLUSHDB),
    so a test or benchmark removes exactly what it created on a shared Redis."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def redis_unavailable_reason(url: str = REDIS_URL) -> str | None:
    """``None`` when a Redis answers PING at ``url``, else why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        return f"Redis at {url} does not answer ({exc})"
    return None


def postgres_unavailable_reason(url: str = POSTGRES_URL) -> str | None:
    """``None`` when PostgreSQL accepts a connection at ``url``, else why not."""
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    # A private thread gives the probe its own event loop, so it also works when the first test
    # to ask is already running inside one (asyncio.run refuses to nest).
    failure: list[BaseException] = []

    def run_probe() -> None:
        try:
            asyncio.run(probe())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run_probe, name="postgres-probe")
    thread.start()
    thread.join()
    if failure:
        return f"PostgreSQL at {url} does not answer ({failure[0]})"
    return None


def _redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH; install Redis to run these tests")
    return binary


class RedisServer:
    """A private ``redis-server`` on a free loopback port; can be killed and restarted in place."""

    def __init__(self, *, cluster: bool = False, port: int | None = None) -> None:
        # A cluster node also listens on port + 10000 (the cluster bus), so it must stay <= 55535.
        self.port = port or free_port(55535 if cluster else 65535)
        self.cluster = cluster
        self._dir = Path(tempfile.mkdtemp(prefix=f"rp-redis-{self.port}-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            _redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
            "--protected-mode",
            "no",
        ]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self._dir / "nodes.conf"),
                "--cluster-node-timeout",
                "2000",
            ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _tcp_answers("127.0.0.1", self.port, 0.2):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers, as a hung host."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class RedisCluster:
    """A 3-master Redis Cluster (no replicas) of private servers on loopback."""

    def __init__(self, nodes: int = 3) -> None:
        self.servers = [RedisServer(cluster=True) for _ in range(nodes)]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.servers[0].port}/0"

    def start(self) -> RedisCluster:
        for server in self.servers:
            server.start()
        redis_cli = shutil.which("redis-cli")
        if redis_cli is None:
            raise RuntimeError("redis-cli is not on PATH; it is needed to form a test cluster")
        subprocess.run(
            [
                redis_cli,
                "--cluster",
                "create",
                *[f"127.0.0.1:{s.port}" for s in self.servers],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        self._wait_until_ok(redis_cli)
        return self

    def _wait_until_ok(self, redis_cli: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [redis_cli, "-p", str(s.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=False,
                ).stdout
                for s in self.servers
            ]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("test Redis Cluster did not reach cluster_state:ok in 30 s")

    def cleanup(self) -> None:
        for server in self.servers:
            server.cleanup()
