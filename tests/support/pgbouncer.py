"""A PgBouncer in transaction pooling mode in front of the loopback PostgreSQL, for one session.

Started on a free loopback port from Debian's ``pgbouncer``; stopped (and its folder removed)
afterwards. PgBouncer refuses to run as root, so as root it drops to ``nobody`` with ``-u``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.services import POSTGRES_URL, free_port


def pgbouncer_engine_options() -> dict[str, Any]:
    """What asyncpg under SQLAlchemy needs behind transaction pooling (docs/operations.md):
    no statement caches, and prepared statements named uniquely, because consecutive
    transactions of one client may run on different server connections."""
    return {
        "connect_args": {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
        }
    }


@dataclass
class PgBouncer:
    executable: Path
    port: int = 0
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rp-pgbouncer-")))
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        """An asyncpg URL for ``database`` through this PgBouncer."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def transactions(self, psql: Path) -> dict[str, int]:
        """Transactions PgBouncer has pooled so far, per database (``SHOW STATS`` on its admin
        console, which speaks only the simple query protocol, hence ``psql``)."""
        output = subprocess.run(
            [
                str(psql),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "pgbouncer",
                "-AtF",
                "\t",
                "-c",
                "SHOW STATS",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        counts: dict[str, int] = {}
        for line in output.splitlines():
            fields = line.split("\t")
            counts[fields[0]] = int(fields[1])  # database, total_xact_count
        return counts

    def start(self) -> PgBouncer:
        upstream = urlsplit(POSTGRES_URL)
        self.port = free_port()
        os.chmod(self.folder, 0o755)  # readable by the unprivileged user it runs as
        users = self.folder / "users.txt"
        users.write_text('"postgres" ""\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={upstream.hostname} port={upstream.port or 5432}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {users}",
                    "pool_mode = transaction",
                    "max_client_conn = 500",
                    "default_pool_size = 20",
                    "ignore_startup_parameters = extra_float_digits",
                    "admin_users = postgres",
                    "",
                ]
            )
        )
        for path in (users, config):
            os.chmod(path, 0o644)
        command = [str(self.executable), str(config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.folder
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}:\n{output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("pgbouncer did not listen within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)
