"""GZipMiddleware: what is compressed, what is not, and that every byte survives the round trip."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.asgi_types import Receive, Scope, Send
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.http import GZipMiddleware, accepts_gzip


def _app(
    chunks: Sequence[bytes],
    *,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),),
):
    """A raw ASGI app answering with ``chunks`` as its body (one chunk: a complete body)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start_headers = list(headers)
        if len(chunks) == 1:
            start_headers.append((b"content-length", str(len(chunks[0])).encode()))
        await send({"type": "http.response.start", "status": status, "headers": start_headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


async def _get(app, accept: str | None = "gzip", **options) -> httpx.Response:
    transport = httpx.ASGITransport(app=GZipMiddleware(app, **options))
    headers = {"Accept-Encoding": accept} if accept is not None else {"Accept-Encoding": ""}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/", headers=headers)


async def _stream(app: GZipMiddleware) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded by httpx)."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Accept-Encoding": "gzip"}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        client.stream("GET", "/", headers=headers) as response,
    ):
        return response, b"".join([part async for part in response.aiter_raw()])


async def test_large_body_is_compressed_with_vary_and_exact_length() -> None:
    body = b'{"items": "' + b"x" * 5000 + b'"}'
    response = await _get(_app([body]))
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) < len(body)
    assert response.content == body  # httpx decodes gzip


async def test_small_body_is_sent_as_it_is_without_vary() -> None:
    response = await _get(_app([b'{"ok": true}']))
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.content == b'{"ok": true}'


async def test_client_without_gzip_gets_identity_but_vary() -> None:
    body = b"y" * 2000
    for accept in (None, "br", "gzip;q=0", "identity"):
        response = await _get(_app([body]), accept=accept)
        assert "content-encoding" not in response.headers, accept
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.content == body


async def test_existing_vary_is_extended_once() -> None:
    headers = ((b"content-type", b"text/plain"), (b"vary", b"Origin"))
    response = await _get(_app([b"z" * 900], headers=headers))
    assert response.headers["vary"] == "Origin, Accept-Encoding"
    starred = await _get(_app([b"z" * 900], headers=((b"vary", b"*"),)))
    assert starred.headers["vary"] == "*"


@pytest.mark.parametrize(
    "headers",
    [
        ((b"content-type", b"text/event-stream"),),
        ((b"content-type", b"text/event-stream; charset=utf-8"),),
        ((b"content-type", b"text/plain"), (b"content-encoding", b"br")),
    ],
)
async def test_event_streams_and_encoded_bodies_pass_untouched(
    headers: tuple[tuple[bytes, bytes], ...],
) -> None:
    response, raw = await _stream(GZipMiddleware(_app([b"e" * 900], headers=headers)))
    assert raw == b"e" * 900
    assert response.headers.get("content-encoding") != "gzip"
    assert "vary" not in response.headers


async def test_partial_content_is_never_compressed() -> None:
    response = await _get(_app([b"p" * 900], status=206))
    assert "content-encoding" not in response.headers


async def test_streamed_body_is_compressed_without_a_length() -> None:
    chunks = [b"chunk %d " % i * 50 for i in range(20)]
    response, raw = await _stream(GZipMiddleware(_app(chunks)))
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    assert gzip.decompress(raw) == b"".join(chunks)


async def test_large_chunks_are_compressed_off_the_event_loop_and_still_round_trip() -> None:
    body = bytes(range(256)) * 1024  # 256 KiB, above the 128 KiB thread threshold
    response = await _get(_app([body]), thread_minimum_size=1024)
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == body


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=3000), min_size=1, max_size=6),
    minimum=st.integers(min_value=0, max_value=4000),
)
async def test_any_body_and_chunking_round_trips(chunks: list[bytes], minimum: int) -> None:
    response, raw = await _stream(GZipMiddleware(_app(chunks), minimum_size=minimum))
    if response.headers.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    else:
        assert len(chunks) == 1
        assert len(chunks[0]) < minimum
    assert raw == b"".join(chunks)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"gzip", True),
        (b"gzip, deflate, br", True),
        (b"GZIP;q=0.5", True),
        (b"x-gzip", True),
        (b"*", True),
        (b"gzip;q=0", False),
        (b"gzip;q=0, *", False),
        (b"*;q=0", False),
        (b"deflate, br", False),
        (b"", False),
        (b"gzip;q=nonsense", False),
    ],
)
def test_accepts_gzip(value: bytes, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def test_bad_configuration_is_refused() -> None:
    app = _app([b""])
    with pytest.raises(ConfigurationError):
        GZipMiddleware(app, compresslevel=0)
    with pytest.raises(ConfigurationError):
        GZipMiddleware(app, minimum_size=-1)
