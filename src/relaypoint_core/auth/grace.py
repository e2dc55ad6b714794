"""Sealing the token pair that a refresh grace window hands out again.

The store keeps the pair produced by a rotation for the length of the grace window so that a
second, concurrent refresh of the same token gets the very same pair. Stored in the clear, that
pair would be a live refresh token sitting in Redis; so it is sealed with AES-GCM under a key
derived from the *presented* refresh token. Only a caller holding that token can open it, which is
exactly who the grace window is for.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relaypoint_core.auth.errors import TokenInvalidError

__all__ = ["open_replay", "seal_replay"]

_CONTEXT = b"relaypoint-refresh-grace-v1:"
_NONCE_BYTES = 12


def _key(presented_token: str) -> bytes:
    return hashlib.sha256(_CONTEXT + presented_token.encode("utf-8")).digest()


def seal_replay(presented_token: str, pair: dict[str, Any]) -> bytes:
    """Encrypt ``pair`` (JSON-serialisable) under a key only ``presented_token`` yields."""
    nonce = os.urandom(_NONCE_BYTES)
    plaintext = json.dumps(pair, separators=(",", ":"), sort_keys=True).encode()
    return nonce + AESGCM(_key(presented_token)).encrypt(nonce, plaintext, _CONTEXT)


def open_replay(presented_token: str, sealed: bytes) -> dict[str, Any]:
    """Decrypt what `seal_replay` produced for the same token.

    Raises:
        TokenInvalidError: the blob was not sealed for this token (or was tampered with).
    """
    try:
        plaintext = AESGCM(_key(presented_token)).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _CONTEXT
        )
    except (InvalidTag, ValueError) as exc:
        raise TokenInvalidError(
            "the stored grace-window pair does not belong to this token"
        ) from exc
    value: dict[str, Any] = json.loads(plaintext)
    return value
