"""Slow clients cannot hold a connection: a request head or body trickled one byte at a time is
cut off at its deadline (issue #12 item 7: one byte every 0.5 s used to hold a connection for
ever). The hardened app runs with one-second deadlines so the test stays short; the client stops
trickling after 40 bytes, far past either deadline, and the server must have hung up first."""

from __future__ import annotations

import http.client
import select
import socket
from urllib.parse import urlsplit

import pytest

from tests.adversarial.conftest import HardenedApp, LiveApp

TRICKLE_BYTES = 40
TRICKLE_GAP = 0.25  # 40 bytes x 0.25 s = 10 s of trickling against a 1 s deadline


@pytest.fixture
def strict_app(hardened: HardenedApp) -> LiveApp:
    return hardened.app


def _connect(app: LiveApp) -> socket.socket:
    url = urlsplit(app.base_url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _trickle(sock: socket.socket, data: bytes) -> bytes | None:
    """Send ``data`` one byte per gap; what the server said when it hung up, or ``None`` if it
    let the whole trickle through."""
    for byte in data:
        readable, _, _ = select.select([sock], [], [], TRICKLE_GAP)
        if readable:
            return _read_until_closed(sock)
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return b""
    return None


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_a_trickled_request_head_gets_408_and_the_connection_is_closed(
    strict_app: LiveApp,
) -> None:
    with _connect(strict_app) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        said = _trickle(sock, b"X-Slow: " + b"a" * TRICKLE_BYTES)
    assert said is not None, "the server let a trickled request head hold the connection"
    assert said.startswith(b"HTTP/1.1 408")


def test_a_trickled_request_body_is_disconnected(strict_app: LiveApp) -> None:
    body = b'{"email":"' + b"a" * TRICKLE_BYTES + b'"}'
    with _connect(strict_app) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        said = _trickle(sock, body)
    assert said is not None, "the server let a trickled request body hold the connection"


def test_prompt_keep_alive_requests_are_served_on_one_connection(strict_app: LiveApp) -> None:
    url = urlsplit(strict_app.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        statuses, sockets = [], set()
        for _ in range(3):
            connection.request("GET", "/health/live")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.add(id(connection.sock))
    finally:
        connection.close()
    assert statuses == [200, 200, 200]
    assert len(sockets) == 1


def test_a_long_request_head_split_across_reads_reaches_the_app(strict_app: LiveApp) -> None:
    # h11 alone refuses an incomplete head over 16 KiB: the same long URL got 404 in one read and
    # 400 plus a reset in two. The app's explicit head bound makes the answer not depend on that.
    path = b"/dashboard/" + b"x" * 40_000
    with _connect(strict_app) as sock:
        sock.sendall(b"GET " + path[:20_000])
        readable, _, _ = select.select([sock], [], [], 0.3)  # the server has read the first part
        assert not readable, "the server answered an incomplete request head"
        sock.sendall(path[20_000:] + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        said = _read_until_closed(sock)
    assert said.startswith(b"HTTP/1.1 404"), said[:80]


def test_a_request_head_over_the_bound_is_refused_with_400(strict_app: LiveApp) -> None:
    with _connect(strict_app) as sock:
        try:
            sock.sendall(b"GET /dashboard/" + b"x" * (256 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            return  # refused before the client finished writing: also a refusal
        said = _read_until_closed(sock)
    assert said == b"" or said.startswith(b"HTTP/1.1 400"), said[:80]
