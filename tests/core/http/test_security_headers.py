"""SecurityHeadersMiddleware: which headers each response gets, and what it never overwrites."""

from __future__ import annotations

import httpx
import pytest

from relaypoint_core.asgi_types import Receive, Scope, Send
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.http import DEFAULT_CSP, HARDENING_HEADERS, SecurityHeadersMiddleware

DOCS_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'"


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers ``ok``; ``?cache=V`` sets its own ``Cache-Control: V``."""
    query = scope["query_string"].decode()
    headers = [(b"content-type", b"text/plain")]
    if query.startswith("cache="):
        headers.append((b"Cache-Control", query.removeprefix("cache=").encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def _get(base: str, path: str, **options) -> httpx.Response:
    app = SecurityHeadersMiddleware(_page, path_csp={"/docs": DOCS_POLICY}, **options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        return await client.get(path)


async def test_hardening_headers_and_default_policy_everywhere() -> None:
    response = await _get("http://a.example", "/page")
    assert response.headers["content-security-policy"] == DEFAULT_CSP
    for name, value in HARDENING_HEADERS.items():
        assert response.headers[name] == value
    assert "'unsafe-inline'" not in DEFAULT_CSP


async def test_a_path_prefix_gets_its_own_policy() -> None:
    docs = await _get("http://a.example", "/docs/oauth2-redirect")
    assert docs.headers["content-security-policy"] == DOCS_POLICY
    assert docs.headers["x-frame-options"] == "DENY"


async def test_hsts_only_over_https() -> None:
    plain = await _get("http://a.example", "/page")
    secure = await _get("https://a.example", "/page")
    assert "strict-transport-security" not in plain.headers
    assert secure.headers["strict-transport-security"].startswith("max-age=")
    off = await _get("https://a.example", "/page", hsts=None)
    assert "strict-transport-security" not in off.headers


async def test_no_store_on_api_paths_unless_the_response_chose_its_caching() -> None:
    api = await _get("http://a.example", "/api/v1/things")
    chosen = await _get("http://a.example", "/api/v1/things?cache=max-age=60")
    page = await _get("http://a.example", "/page")
    assert api.headers["cache-control"] == "no-store"
    assert chosen.headers.get_list("cache-control") == ["max-age=60"]  # any case is respected
    assert "cache-control" not in page.headers


async def test_websocket_and_lifespan_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, str]:
        return {}

    async def drop(message: object) -> None:
        raise AssertionError("nothing is sent")

    middleware = SecurityHeadersMiddleware(inner)
    await middleware({"type": "lifespan"}, nothing, drop)
    assert seen == ["lifespan"]


@pytest.mark.parametrize("value", ["nosniff\r\nSet-Cookie: a=b", "line\nbreak", "nul\x00"])
def test_header_injection_in_configuration_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError):
        SecurityHeadersMiddleware(_page, headers={"X-Content-Type-Options": value})
    with pytest.raises(ConfigurationError):
        SecurityHeadersMiddleware(_page, csp=value)


def test_headers_for_names_what_a_path_gets() -> None:
    middleware = SecurityHeadersMiddleware(_page, path_csp={"/docs": DOCS_POLICY})
    api = dict(middleware.headers_for("/api/v1/x", https=True))
    docs = dict(middleware.headers_for("/docs", https=False))
    assert api[b"cache-control"] == b"no-store"
    assert b"strict-transport-security" in api
    assert api[b"content-security-policy"] == DEFAULT_CSP.encode()
    assert docs[b"content-security-policy"] == DOCS_POLICY.encode()
    assert b"strict-transport-security" not in docs
