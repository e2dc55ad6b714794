"""Real-time fan-out: one event to 1,000 connected clients, RelayPoint's layer vs plain python-socketio.

Each server runs in its own process (uvicorn on loopback): plain python-socketio whose connect
handler puts every client in one room, and `RealtimeServer` with access-token authentication,
leases swept every 0.25 s, per-tenant rooms and `TenantChannel.emit`. The benchmark process holds
1,000 WebSocket clients (a minimal Engine.IO v4 / Socket.IO v5 client on aiohttp, so the client
side costs the same for both) and measures, per fired event:

* emit: the server's own time inside its emit call (the server reports it), and
* delivery: from the HTTP request that fires the event until the last of the 1,000 clients has it.

A third row runs RelayPoint's layer with its expiry/revocation sweeps off, to show what the
sweeps (one revocation look-up per family every 0.25 s) cost the fan-out.

Run: `python -m benchmarks bench_realtime` (or `python3 dev.py bench bench_realtime`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import Row, print_table

CLIENTS = int(os.environ.get("RELAYPOINT_BENCH_REALTIME_CLIENTS", "1000"))
EVENTS = int(os.environ.get("RELAYPOINT_BENCH_REALTIME_EVENTS", "30"))
ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-realtime-secret-0123456789abcdef0123"
KINDS = {
    "plain": "python-socketio",
    "relaypoint": "relaypoint realtime",
    "relaypoint-nosweep": "relaypoint, no sweeps",
}


# --- server processes ---------------------------------------------------------------------------


def _http_app(fire: Any, tokens: Any) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = json.dumps(await (fire() if scope["path"] == "/fire" else tokens())).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _plain_app() -> Any:
    import socketio

    sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)

    @sio.on("connect")
    async def connect(sid: str, environ: Any, auth: Any = None) -> None:
        await sio.enter_room(sid, "everyone")

    async def fire() -> dict[str, float]:
        start = time.perf_counter()
        await sio.emit("tick", {"tenant_id": "acme", "n": 1}, to="everyone")
        return {"emit": time.perf_counter() - start}

    async def tokens() -> list[str]:
        return ["plain"] * CLIENTS

    return socketio.ASGIApp(sio, other_asgi_app=_http_app(fire, tokens))


def _relaypoint_app(*, sweeps: bool = True) -> Any:
    from relaypoint_core.auth import AuthService, KeyRing, UserRecord
    from relaypoint_core.realtime import AccessTokenAuthenticator, RealtimeServer

    auth = AuthService(keys=KeyRing.from_secret(SECRET))
    server = RealtimeServer(
        AccessTokenAuthenticator(auth), sweep_interval=0.25 if sweeps else 3600.0
    )

    async def fire() -> dict[str, float]:
        start = time.perf_counter()
        await server.tenant("acme").emit("tick", {"tenant_id": "acme", "n": 1})
        return {"emit": time.perf_counter() - start}

    async def tokens() -> list[str]:
        users = [
            UserRecord(f"u{i}", f"u{i}@acme.example", None, "acme", ("user",))
            for i in range(CLIENTS)
        ]
        return [(await auth.issue_tokens(user)).access_token for user in users]

    return server.asgi_app(_http_app(fire, tokens))


def serve(kind: str, port: int) -> None:
    import uvicorn

    app = _plain_app() if kind == "plain" else _relaypoint_app(sweeps=kind == "relaypoint")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="wsproto")


# --- the measuring side -------------------------------------------------------------------------


class Clients:
    """`CLIENTS` minimal Socket.IO clients on one aiohttp session, counting `tick` arrivals."""

    def __init__(self) -> None:
        self.received = 0
        self.all_in = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def run_one(self, session: Any, url: str, token: str, ready: asyncio.Event) -> None:
        async with session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket") as ws:
            await ws.receive_str()  # Engine.IO open packet
            await ws.send_str("40" + json.dumps({"token": token}))
            answer = await ws.receive_str()
            if not answer.startswith("40"):
                raise RuntimeError(f"connection refused: {answer}")
            ready.set()
            async for message in ws:
                data = message.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith('42["tick"'):
                    self.received += 1
                    if self.received >= CLIENTS:
                        self.all_in.set()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _connect_all(session: Any, kind: str, url: str) -> Clients:
    import aiohttp

    for _ in range(300):
        try:
            async with session.get(f"{url}/tokens") as response:
                tokens = await response.json()
            break
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"{kind} server did not start")
    clients = Clients()
    for start in range(0, CLIENTS, 100):  # connect in waves: each server has one core
        readies = []
        for token in tokens[start : start + 100]:
            ready = asyncio.Event()
            readies.append(ready)
            clients.tasks.append(asyncio.create_task(clients.run_one(session, url, token, ready)))
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    return clients


async def _fire(session: Any, url: str, clients: Clients) -> tuple[float, float]:
    clients.received = 0
    clients.all_in.clear()
    began = time.perf_counter()
    async with session.post(f"{url}/fire") as response:
        emit = float((await response.json())["emit"])
    await asyncio.wait_for(clients.all_in.wait(), 30)
    return emit, time.perf_counter() - began


async def main() -> None:
    import aiohttp

    urls = {kind: f"http://127.0.0.1:{_free_port()}" for kind in KINDS}
    processes = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
            [
                sys.executable,
                "-m",
                "benchmarks.bench_realtime",
                "--serve",
                kind,
                "--port",
                url[17:],
            ],
            cwd=ROOT,
        )
        for kind, url in urls.items()
    ]
    samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            clients = {kind: await _connect_all(session, kind, url) for kind, url in urls.items()}
            # Every server has its clients connected for the whole run; events are fired at the
            # servers in turn, so a busy moment on the machine hits all of them alike.
            for _ in range(EVENTS):
                for kind, url in urls.items():
                    samples[kind].append(await _fire(session, url, clients[kind]))
            for group in clients.values():
                for task in group.tasks:
                    task.cancel()
                await asyncio.gather(*group.tasks, return_exceptions=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
    for index, title in ((0, "server-side emit"), (1, "fire-to-last-delivery")):
        print_table(
            f"{title} of one event to {CLIENTS} clients (median of {EVENTS}, fired in turn)",
            [
                Row(KINDS[kind], statistics.median(sample[index] for sample in samples[kind]))
                for kind in KINDS
            ],
            baseline="python-socketio",
            unit="ms",
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=KINDS)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    else:
        asyncio.run(main())
