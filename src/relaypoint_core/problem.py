"""RFC 9457 problem details: one body builder and one pure-ASGI sender for every package.

::

    body = problem_body(404, title="Tenant not found", detail="No tenant named 'acme' exists.")
    await send_problem(send, 404, title="Tenant not found", detail="...", extra={"tenant": "acme"})

``problem_body`` returns the JSON object (``type``, ``title``, ``status``, ``detail``, then any
``extra`` members); ``encode_problem`` serialises it compactly once; ``send_problem`` answers an
ASGI ``http`` request with it, ``Content-Type: application/problem+json`` and a matching
``Content-Length``. No framework is imported, so middlewares of every package can use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from relaypoint_core.asgi_types import Send

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "encode_problem",
    "problem_body",
    "send_problem",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
_CONTENT_TYPE_HEADER = (b"content-type", PROBLEM_CONTENT_TYPE.encode("ascii"))


def problem_body(
    status: int,
    *,
    title: str,
    detail: str,
    type_: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem object; ``extra`` adds extension members (they cannot replace the standard ones)."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if extra:
        for key, value in extra.items():
            body.setdefault(key, value)
    return body


def encode_problem(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a problem object."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def send_problem(
    send: Send,
    status: int,
    *,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: Iterable[tuple[bytes, bytes]] = (),
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Answer an ASGI ``http`` request with a problem+json response (``headers`` are added)."""
    payload = encode_problem(
        problem_body(status, title=title, detail=detail, type_=type_, extra=extra)
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                _CONTENT_TYPE_HEADER,
                (b"content-length", str(len(payload)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
