"""The served OpenAPI document: valid (openapi-spec-validator), path parameters declared, the
server's own constraints stated, and ``Allow`` listing every method of a resource."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.examples.conftest import LiveApp


@pytest.fixture(scope="module")
def document(embedded_app: LiveApp) -> dict[str, Any]:
    response = httpx.get(f"{embedded_app.base_url}/openapi.json", timeout=15)
    assert response.status_code == 200
    payload: dict[str, Any] = response.json()
    return payload


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises OpenAPIValidationError with the first problem


def test_every_templated_path_declares_its_parameters(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}"


def parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path]["get"]
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    schema: dict[str, Any] = found["schema"]
    if "pattern" in schema:  # stated for the whole parameter
        return schema
    return next((s for s in schema.get("anyOf", []) if s.get("type") == "string"), schema)


def test_the_item_reads_fields_parameter_is_the_one_fastapi_generates_for_the_list(
    document: dict[str, Any],
) -> None:
    # The item read declares ?fields by hand (ReadCall.openapi_extra); the list route's comes
    # from FastAPI and the same FieldSelection: the two must not drift apart.
    def fields(path: str) -> dict[str, Any]:
        operation = document["paths"][path]["get"]
        found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == "fields")
        return found

    for prefix in ("/api/v1", "/api/v1/tenants/{tenant_id}"):
        assert fields(f"{prefix}/workflows/{{workflow_id}}") == fields(f"{prefix}/workflows")


FIELDS_SAMPLES = ["id,name", " id , name,,status ", "name", "", "id name", "bogus", ",", "id,bogus"]
WINDOW_SAMPLES = ["1h", "15m", " 1H30m ", "0s1m", "0s", "0h0m", "1x", "h", "10"]


@pytest.mark.parametrize("value", FIELDS_SAMPLES)
def test_the_fields_pattern_is_what_the_server_accepts(
    embedded_app: LiveApp, document: dict[str, Any], value: str
) -> None:
    pattern = parameter(document, "/api/v1/workflows", "fields")["pattern"]
    token = embedded_app.session("tenant_admin@acme.example")["access_token"]
    with embedded_app.client() as client:
        response = client.get(
            "/api/v1/workflows",
            params={"fields": value, "limit": 1},
            headers={"Authorization": f"Bearer {token}", "X-Tenant-ID": "acme"},
        )
    assert response.status_code in (200, 422), response.text
    assert (response.status_code == 200) == (re.search(pattern, value) is not None)


@pytest.mark.parametrize("value", WINDOW_SAMPLES)
def test_the_time_window_pattern_is_what_the_server_accepts(
    embedded_app: LiveApp, document: dict[str, Any], value: str
) -> None:
    path = "/api/v1/tenants/{tenant_id}/performance"
    pattern = parameter(document, path, "time_window")["pattern"]
    token = embedded_app.session("tenant_admin@acme.example")["access_token"]
    with embedded_app.client() as client:
        response = client.get(
            "/api/v1/tenants/acme/performance",
            params={"time_window": value},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code in (200, 422), response.text
    assert (response.status_code == 200) == (re.search(pattern, value) is not None)


def test_405_allow_lists_every_method_of_the_resource(embedded_app: LiveApp) -> None:
    token = embedded_app.session("tenant_admin@acme.example")["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-ID": "acme"}
    with embedded_app.client() as client:
        item = client.options(f"/api/v1/workflows/{uuid.uuid4()}", headers=headers)
        collection = client.put("/api/v1/workflows", headers=headers)
    assert item.status_code == 405
    assert set(item.headers["allow"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "PATCH",
        "DELETE",
    }
    assert collection.status_code == 405
    assert set(collection.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
