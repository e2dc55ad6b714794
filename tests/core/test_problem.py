"""The shared RFC 9457 builder and pure-ASGI sender."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from relaypoint_core.problem import (
    PROBLEM_CONTENT_TYPE,
    encode_problem,
    problem_body,
    send_problem,
)


def test_body_has_the_standard_members_first_and_extras_cannot_replace_them() -> None:
    body = problem_body(
        404,
        title="Not found",
        detail="gone",
        type_="https://example.test/errors#gone",
        extra={"status": 200, "tenant": "acme"},
    )
    assert list(body) == ["type", "title", "status", "detail", "tenant"]
    assert body["status"] == 404
    assert body["tenant"] == "acme"
    assert problem_body(400, title="t", detail="d")["type"] == "about:blank"


def test_encoding_is_compact_utf8() -> None:
    payload = encode_problem(problem_body(400, title="Tenant required", detail="café"))
    assert b", " not in payload
    assert json.loads(payload)["detail"] == "café"
    assert "café".encode() in payload


async def test_send_problem_answers_with_content_type_length_and_extra_headers() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await send_problem(
        send,
        403,
        title="Forbidden",
        detail="no",
        headers=[(b"retry-after", b"5")],
        extra={"code": "forbidden"},
    )
    start, body = sent
    assert start["type"] == "http.response.start"
    assert start["status"] == 403
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == b"5"
    assert headers[b"content-type"] == PROBLEM_CONTENT_TYPE.encode()
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert json.loads(body["body"]) == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "no",
        "code": "forbidden",
    }
