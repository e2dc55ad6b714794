"""A route's own error answer (`http_problem_response`) is the one the installed handlers give
for the same `HTTPException`: one rendering of plain HTTP errors, not two."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from starlette.responses import Response

from relaypoint_core.fastapi_problems import http_problem_response, install_problem_handlers


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/raised/{status}")
    async def raised(status: int, detail: str) -> None:
        raise HTTPException(status, detail, headers={"X-Why": "test"})

    @app.get("/answered/{status}")
    async def answered(status: int, detail: str) -> Response:
        return http_problem_response(status, detail, {"X-Why": "test"})

    return TestClient(app)


@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 418, 422])
def test_an_answered_problem_is_the_raised_one(client: TestClient, status: int) -> None:
    detail = "no workflow '<script>\u0007'"
    raised = client.get(f"/raised/{status}", params={"detail": detail})
    answered = client.get(f"/answered/{status}", params={"detail": detail})
    assert (answered.status_code, answered.content) == (raised.status_code, raised.content)
    for header in ("content-type", "x-why"):
        assert answered.headers[header] == raised.headers[header]
    body = answered.json()
    assert body["status"] == status
    assert "\u0007" not in body["detail"]  # the detail went through safe_text


def test_without_detail_the_title_is_the_detail() -> None:
    body = http_problem_response(404).body
    assert b'"title":"Not found"' in body
    assert b'"detail":"Not found"' in body
