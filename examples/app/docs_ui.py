"""Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from local assets, with a CSP that allows them.

The JavaScript and CSS bundles come from the ``fastapi-offline`` wheel (extra ``docs-ui``), served
under ``/docs-assets``, so the pages work on a machine without internet access and the policy
names no CDN. Swagger UI starts from one inline script: the policy allows exactly that script by
its SHA-256 hash instead of ``'unsafe-inline'``. Both UIs set inline styles, and ReDoc runs a web
worker from a ``blob:`` URL, which the policy allows.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from relaypoint_core.errors import MissingExtraError

__all__ = ["ASSETS_PATH", "DOCS_CSP", "docs_csp", "install_docs_ui"]

ASSETS_PATH = "/docs-assets"
# What the security-headers middleware sends under /docs and /redoc: the UIs' local bundles (the
# pages themselves send their own, stricter policy that allows their inline script by hash). No
# CDN is named.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _assets_dir() -> Path:
    try:
        return Path(str(files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        raise MissingExtraError("fastapi_offline", "docs-ui", "The local API docs UI") from None


def docs_csp(html: str) -> str:
    """The page's Content-Security-Policy: local assets, and its inline scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}".rstrip()
        + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def _page(response: HTMLResponse) -> tuple[str, dict[str, str]]:
    html = bytes(response.body).decode()
    return html, {"Content-Security-Policy": docs_csp(html)}


def install_docs_ui(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs`` and ``/redoc`` (create the app with ``docs_url=None, redoc_url=None``).

    Raises:
        MissingExtraError: ``fastapi-offline`` (extra ``docs-ui``) is not installed.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="docs-assets")
    swagger = _page(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        )
    )
    redoc = _page(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger[0], headers=swagger[1])

    @app.get("/redoc", include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return HTMLResponse(redoc[0], headers=redoc[1])
