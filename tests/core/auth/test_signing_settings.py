"""JWT_ALGORITHM / JWT_PRIVATE_KEY / REFRESH_TOKEN_REUSE_GRACE_SECONDS, and the Ed25519 alias."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaypoint_core.auth import AuthService, KeyRing, SigningKey
from relaypoint_core.auth.signing import key_ring_from_settings
from relaypoint_core.config import load_settings
from relaypoint_core.errors import ConfigurationError

STRONG = "Zq8#vN2!pL5@xR9$wT3%kM7^bH1&cJ6*"


def _pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def test_hs256_is_the_default() -> None:
    ring = key_ring_from_settings(load_settings(SECRET_KEY=STRONG, ENVIRONMENT="production"))
    assert ring.current.algorithm == "HS256"


@pytest.mark.parametrize("name", ["EdDSA", "Ed25519"])
def test_an_ed25519_private_key_from_the_environment(name: str) -> None:
    settings = load_settings(
        SECRET_KEY=STRONG,
        ENVIRONMENT="production",
        JWT_ALGORITHM=name,
        JWT_PRIVATE_KEY=_pem().replace("\n", "\\n"),
        JWT_KEY_ID="prod-1",
        REFRESH_TOKEN_REUSE_GRACE_SECONDS=3,
    )
    service = AuthService.from_settings(settings)
    assert (service.keys.current.kid, service.keys.current.algorithm) == ("prod-1", "EdDSA")
    assert service.refresh_grace == 3
    assert service.keys.public_jwks()["keys"][0]["kid"] == "prod-1"


def test_production_without_a_private_key_fails_and_development_announces_an_ephemeral_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConfigurationError, match="JWT_PRIVATE_KEY"):
        key_ring_from_settings(
            load_settings(SECRET_KEY=STRONG, ENVIRONMENT="production", JWT_ALGORITHM="EdDSA")
        )
    with caplog.at_level(logging.WARNING, logger="relaypoint.auth"):
        ring = key_ring_from_settings(
            load_settings(ENVIRONMENT="development", JWT_ALGORITHM="EdDSA")
        )
    assert ring.can_sign
    assert "ephemeral" in caplog.text


def test_unknown_algorithms_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not supported"):
        key_ring_from_settings(load_settings(ENVIRONMENT="development", JWT_ALGORITHM="none"))


def test_ed25519_names_the_same_key_as_eddsa() -> None:
    key = SigningKey.generate_ed25519("ed")
    alias = SigningKey("ed-alias", "Ed25519", key.private, key.public)
    assert alias.algorithm == "EdDSA"
    assert alias.accepts("Ed25519")
    assert alias.accepts("EdDSA")
    assert not alias.accepts("HS256")
    assert KeyRing([alias]).can_sign
