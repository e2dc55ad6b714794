"""The app's security-headers middleware on its own: HSTS only over HTTPS, a relaxed CSP only
for the API docs pages, and handlers' own headers are never overwritten."""

from __future__ import annotations

import httpx
from examples.app.security_headers import DEFAULT_CSP, DOCS_CSP, SecurityHeadersMiddleware
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def _page(request: Request) -> PlainTextResponse:
    cached = request.query_params.get("cache")
    return PlainTextResponse("ok", headers={"Cache-Control": cached} if cached else None)


def _app() -> SecurityHeadersMiddleware:
    routes = [Route(path, _page) for path in ("/page", "/docs", "/api/v1/things")]
    return SecurityHeadersMiddleware(Starlette(routes=routes))


async def _get(base_url: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        return await client.get(path)


async def test_hsts_only_over_https() -> None:
    plain = await _get("http://app.example", "/page")
    secure = await _get("https://app.example", "/page")
    assert "strict-transport-security" not in plain.headers
    assert secure.headers["strict-transport-security"].startswith("max-age=")


async def test_strict_csp_everywhere_but_the_docs_pages() -> None:
    page = await _get("http://app.example", "/page")
    docs = await _get("http://app.example", "/docs")
    assert page.headers["content-security-policy"] == DEFAULT_CSP
    assert "'unsafe-inline'" not in DEFAULT_CSP
    assert docs.headers["content-security-policy"] == DOCS_CSP
    for response in (page, docs):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


async def test_api_responses_are_not_stored_unless_the_handler_says_otherwise() -> None:
    api = await _get("http://app.example", "/api/v1/things")
    chosen = await _get("http://app.example", "/api/v1/things?cache=max-age%3D60")
    page = await _get("http://app.example", "/page")
    assert api.headers["cache-control"] == "no-store"
    assert chosen.headers["cache-control"] == "max-age=60"
    assert "cache-control" not in page.headers
