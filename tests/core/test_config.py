from __future__ import annotations

import pytest

from relaypoint_core import ConfigurationError, load_settings

STRONG = "k3J9-xQ2_vLmN8pR4tY7wZ1aB5cD6eF0gH2iJ4kL6mN8oP"


def test_missing_secret_fails_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
        load_settings()


@pytest.mark.parametrize(
    "secret",
    ["short", "your-256-bit-secret-key-change-in-production", "a" * 64, "ab" * 40],
)
def test_weak_secret_fails_in_production(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings()


def test_development_allows_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert load_settings().is_development


def test_reads_seed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("ALLOWED_HOSTS", "relaypoint.ai,*.relaypoint.ai")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.relaypoint.ai")
    monkeypatch.setenv("ENABLE_CACHING", "false")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    settings = load_settings()
    assert settings.ALLOWED_HOSTS == ["relaypoint.ai", "*.relaypoint.ai"]
    assert settings.CORS_ORIGINS == ["https://app.relaypoint.ai"]
    assert settings.ENABLE_CACHING is False
    assert settings.REDIS_URL == "redis://redis:6379/0"
    assert settings.ACCESS_TOKEN_EXPIRE_MINUTES == 30
