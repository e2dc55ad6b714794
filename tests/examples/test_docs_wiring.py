"""The getting-started page shows examples/quickstart.py verbatim, and the wiring samples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import httpx
from examples.app.listing import FieldSelection
from fastapi import Depends, FastAPI

from relaypoint_core.fastapi_problems import install_problem_handlers
from relaypoint_tenancy import TenantRecord

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / page).read_text(), flags=re.S)


def test_getting_started_shows_the_quickstart_verbatim() -> None:
    quickstart = (ROOT / "examples" / "quickstart.py").read_text()
    assert quickstart in python_blocks("getting-started.md")


def test_the_quickstart_imports_only_public_sdk_api() -> None:
    source = (ROOT / "examples" / "quickstart.py").read_text()
    for module in re.findall(r"^from (relaypoint_\w+(?:\.\w+)*) import", source, flags=re.M):
        assert not any(part.startswith("_") for part in module.split("."))
    assert "examples.app" not in source


class Lookup:
    async def by_key(self, key: str) -> TenantRecord | None:
        return TenantRecord("t-1", "acme", "PROFESSIONAL", "active") if key == "acme" else None

    async def by_domain(self, domain: str) -> TenantRecord | None:
        return None


async def test_the_middleware_order_sample_builds_a_working_stack() -> None:
    (sample,) = python_blocks("middleware-order.md")
    namespace: dict[str, object] = {}
    exec(compile(sample, "middleware-order.md", "exec"), namespace)
    app = namespace["build"](Lookup())  # type: ignore[operator]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/nothing-here", headers={"X-Tenant-ID": "acme"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("#not-found")


def test_a_missing_extra_names_the_extra_of_the_users_database() -> None:
    probe = (
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "from relaypoint_core.errors import MissingExtraError\n"
        "try:\n    import relaypoint_tenancy.service\n"
        "except MissingExtraError as e:\n    print(e)\n"
    )
    for url, extra in (("sqlite+aiosqlite:///x.db", "sqlite"), ("postgresql://h/db", "postgres")):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env={"DATABASE_URL": url, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        assert f"pip install 'relaypoint[{extra}]'" in out


def test_fastapi_adapters_name_the_fastapi_extra() -> None:
    probe = (
        "import sys; sys.modules['fastapi'] = None\n"
        "from relaypoint_core.errors import MissingExtraError\n"
        "for m in ('relaypoint_core.fastapi', 'relaypoint_core.fastapi_problems', 'relaypoint_tenancy.fastapi'):\n"
        "    try:\n        __import__(m)\n"
        "    except MissingExtraError as e:\n        print(e.extra)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.split() == ["fastapi", "fastapi", "fastapi"]


def test_the_apps_register_no_error_mapping_by_hand() -> None:
    for path in [*(ROOT / "examples" / "app").glob("*.py"), ROOT / "examples" / "quickstart.py"]:
        source = path.read_text()
        assert "add_exception_handler" not in source, path.name
        assert "register_error_status" not in source, path.name


SELECT_FIELDS = FieldSelection(("id", "name"))


def _fields_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def items(
        fields: Annotated[frozenset[str] | None, Depends(SELECT_FIELDS)],
    ) -> dict[str, int]:
        return {"ok": 1}

    return app


async def test_a_422_never_echoes_hostile_field_names() -> None:
    transport = httpx.ASGITransport(app=_fields_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        hostile = await client.get("/items", params={"fields": "<script>alert(1)</script>"})
        invalid = await client.post("/items", json={"<img src=x onerror=alert(1)>": 1})
    assert hostile.status_code == 422
    assert "<" not in hostile.text
    assert hostile.headers["content-type"] == "application/problem+json"
    assert invalid.status_code == 405
    assert "<" not in invalid.text
