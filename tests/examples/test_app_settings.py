"""The app's ``RELAYPOINT_*`` variables are pydantic-settings fields: names, defaults, ranges and
messages that name the variable (the process-level check is test_startup.py)."""

from __future__ import annotations

import pytest
from examples.app.server import (
    SERVER_ENVIRONMENT_VARIABLES,
    ServerEnvironment,
    ServerLimits,
    load_server_limits,
)
from examples.app.settings import (
    APP_ENVIRONMENT_VARIABLES,
    AppEnvironment,
    load_app_config,
)

from relaypoint_core.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*APP_ENVIRONMENT_VARIABLES, "ENVIRONMENT", "SECRET_KEY", "DEBUG"]:
        monkeypatch.delenv(name, raising=False)


def test_every_field_is_a_documented_variable() -> None:
    assert set(APP_ENVIRONMENT_VARIABLES) == {
        "RELAYPOINT_HOST",
        "RELAYPOINT_PORT",
        "RELAYPOINT_DEMO_SEED",
        "RELAYPOINT_DEMO_PASSWORD",
        "RELAYPOINT_BASE_DOMAIN",
        "RELAYPOINT_KEY_PREFIX",
        "RELAYPOINT_ANONYMOUS_TIER",
        "RELAYPOINT_TRUSTED_PROXIES",
        "RELAYPOINT_QUOTA_LEASE",
        *SERVER_ENVIRONMENT_VARIABLES,
    }
    assert all(APP_ENVIRONMENT_VARIABLES.values())
    assert len(AppEnvironment.model_fields) + len(ServerEnvironment.model_fields) == len(
        APP_ENVIRONMENT_VARIABLES
    )


def test_defaults() -> None:
    config = load_app_config()
    assert config.settings.is_development  # the demo's own default
    assert (config.host, config.port, config.demo_seed) == ("127.0.0.1", 8000, True)
    assert config.base_domain == "relaypoint.localhost"
    assert (config.key_prefix, config.anonymous_tier, config.trusted_proxies) == ("rp:", "FREE", ())
    assert config.quota_lease == 0.0  # leasing is opt-in
    assert load_server_limits() == ServerLimits()


def test_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYPOINT_PORT", "9001")
    monkeypatch.setenv("RELAYPOINT_DEMO_SEED", "off")
    monkeypatch.setenv("RELAYPOINT_BASE_DOMAIN", "Example.TEST")
    monkeypatch.setenv("RELAYPOINT_ANONYMOUS_TIER", "basic")
    monkeypatch.setenv("RELAYPOINT_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("RELAYPOINT_QUOTA_LEASE", "0.05")
    monkeypatch.setenv("RELAYPOINT_KEEPALIVE_TIMEOUT", "7.9")
    monkeypatch.setenv("RELAYPOINT_HEADER_TIMEOUT", "")  # empty means the default
    config = load_app_config()
    assert (config.port, config.demo_seed) == (9001, False)
    assert (config.base_domain, config.anonymous_tier) == ("example.test", "BASIC")
    assert config.trusted_proxies == ("10.0.0.1", "10.0.0.0/8")
    assert config.quota_lease == 0.05
    limits = load_server_limits()
    assert (limits.keepalive_timeout, limits.header_timeout) == (7, 10.0)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RELAYPOINT_PORT", "http", "RELAYPOINT_PORT='http' is not a port number"),
        ("RELAYPOINT_PORT", "70000", "RELAYPOINT_PORT='70000' is not a port number"),
        ("RELAYPOINT_DEMO_SEED", "maybe", "RELAYPOINT_DEMO_SEED='maybe' is not a boolean"),
        ("RELAYPOINT_QUOTA_LEASE", "0.9", "RELAYPOINT_QUOTA_LEASE='0.9' "),
        ("RELAYPOINT_QUOTA_LEASE", "lots", "RELAYPOINT_QUOTA_LEASE='lots' "),
    ],
)
def test_a_bad_app_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="reference app configuration") as caught:
        load_app_config()
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RELAYPOINT_HEADER_TIMEOUT", "soon", "must be a number between 0.1 and 300"),
        ("RELAYPOINT_HEADER_TIMEOUT", "0.05", "must be a number between 0.1 and 300"),
        ("RELAYPOINT_BODY_TIMEOUT", "3601", "must be a number between 0.1 and 3600"),
        ("RELAYPOINT_KEEPALIVE_TIMEOUT", "nan", "must be a number between 1 and 300"),
        ("RELAYPOINT_MAX_CONNECTIONS", "0", "must be a number between 1 and 1000000"),
        ("RELAYPOINT_MAX_REQUEST_HEAD", "1024", "must be a number between 8192 and 16777216"),
    ],
)
def test_a_bad_server_limit_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_server_limits()
    assert f"{name}={value!r} {expected}" in str(caught.value)


def test_seeding_outside_development_needs_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "Qx7" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
    assert load_app_config().demo_seed is False
    monkeypatch.setenv("RELAYPOINT_DEMO_SEED", "true")
    with pytest.raises(ConfigurationError, match="RELAYPOINT_DEMO_PASSWORD"):
        load_app_config()
    monkeypatch.setenv("RELAYPOINT_DEMO_PASSWORD", "a-strong-one")
    assert load_app_config().demo_password == "a-strong-one"
