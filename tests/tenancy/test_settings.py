"""TenancySettings reads ``TENANCY_*`` like every other package and shares core's database default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relaypoint_core.config import DEFAULT_DATABASE_URL
from relaypoint_core.optional import database_extra
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.service import TenancySettings

ROOT = Path(__file__).resolve().parents[2]


def test_database_default_is_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert TenancySettings.load().database_url == DEFAULT_DATABASE_URL
    assert database_extra() == ("sqlite", ("postgres",))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/x")
    assert TenancySettings.load().database_url == "postgresql+asyncpg://db/x"
    assert database_extra() == ("postgres", ("sqlite",))


def test_variables_parse_csv_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANCY_RESOLUTION_ORDER", "header, token")
    monkeypatch.setenv("TENANCY_ROW_LEVEL_SECURITY", "on")
    settings = TenancySettings.load()
    assert settings.resolution_order == ("header", "token")
    assert settings.row_level_security is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "TENANCY_ROW_LEVEL_SECURITY",
            "maybe",
            "TENANCY_ROW_LEVEL_SECURITY='maybe' is not a boolean",
        ),
        ("TENANCY_STRATEGY", "sharded", "TENANCY_STRATEGY='sharded'"),
        ("TENANCY_MAX_TENANT_ENGINES", "0", "TENANCY_MAX_TENANT_ENGINES='0'"),
        ("TENANCY_RESOLUTION_ORDER", "path,telepathy", "TENANCY_RESOLUTION_ORDER="),
    ],
)
def test_a_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(TenancyConfigurationError, match="invalid tenancy configuration") as caught:
        TenancySettings.load()
    assert expected in str(caught.value)


def test_migrate_command_defaults_to_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'control.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "relaypoint_tenancy", "migrate"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "control plane: migrated" in result.stdout
    assert (tmp_path / "control.sqlite3").exists()
    assert not (tmp_path / "relaypoint.sqlite3").exists()  # not the default file
