"""The signing key ring described by the settings: ``JWT_ALGORITHM`` with ``SECRET_KEY`` (HMAC)
or ``JWT_PRIVATE_KEY`` (PEM, asymmetric), and in development an ephemeral key announced at start.
"""

from __future__ import annotations

import hashlib
import logging

from relaypoint_core.auth.keys import (
    ALLOWED_ALGORITHMS,
    HMAC_ALGORITHMS,
    KeyRing,
    SigningKey,
    canonical_algorithm,
)
from relaypoint_core.config import RelayPointSettings
from relaypoint_core.errors import ConfigurationError

__all__ = ["key_ring_from_settings"]

logger = logging.getLogger("relaypoint.auth")


def _ephemeral(algorithm: str) -> SigningKey:
    if algorithm == "EdDSA":
        return SigningKey.generate_ed25519("dev-ephemeral-ed25519")
    if algorithm == "RS256":
        return SigningKey.generate_rsa("dev-ephemeral-rs256")
    raise ConfigurationError(f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY (PEM)")


def key_ring_from_settings(settings: RelayPointSettings) -> KeyRing:
    """The ring that signs this service's tokens.

    Args:
        settings: ``JWT_ALGORITHM`` (HS256 by default), ``SECRET_KEY`` for HMAC, or
            ``JWT_PRIVATE_KEY`` (PEM) and optionally ``JWT_KEY_ID`` for asymmetric algorithms.

    Returns:
        A ring of one signing key. Without ``JWT_PRIVATE_KEY`` in development, a fresh key is
        generated and announced on the ``relaypoint.auth`` logger: tokens die with the process.

    Raises:
        ConfigurationError: the algorithm is unknown or its key is missing or unreadable.
    """
    algorithm = canonical_algorithm(settings.JWT_ALGORITHM.strip())
    if algorithm not in ALLOWED_ALGORITHMS:
        raise ConfigurationError(
            f"JWT_ALGORITHM={settings.JWT_ALGORITHM!r} is not supported; use HS256, EdDSA "
            "(or Ed25519), RS256 or ES256"
        )
    if algorithm in HMAC_ALGORITHMS:
        if not settings.SECRET_KEY:
            raise ConfigurationError(
                "AuthService needs SECRET_KEY (or an explicit KeyRing) to sign tokens"
            )
        return KeyRing(
            [SigningKey.hmac(settings.SECRET_KEY, kid=settings.JWT_KEY_ID, algorithm=algorithm)]
        )
    pem = settings.JWT_PRIVATE_KEY
    if not pem:
        if not settings.is_development:
            raise ConfigurationError(
                f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY (a PEM private key) outside "
                "development; generate one with `openssl genpkey -algorithm ed25519`"
            )
        key = _ephemeral(algorithm)
        logger.warning(
            "JWT_PRIVATE_KEY is unset: signing with an ephemeral %s key %r generated at start-up "
            "(development only; tokens stop verifying when the process restarts)",
            algorithm,
            key.kid,
        )
        return KeyRing([key])
    pem = pem.replace("\\n", "\n")  # one-line PEMs from env files
    kid = (
        settings.JWT_KEY_ID
        or algorithm.lower() + "-" + hashlib.sha256(pem.encode()).hexdigest()[:12]
    )
    return KeyRing([SigningKey.from_pem(kid, algorithm, private_pem=pem)])
