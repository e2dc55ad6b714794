"""What a sign-in hands out (`TokenPair`) and the Protocol for other kinds of bearer credential
(`CredentialVerifier`, implemented by API keys) that `AuthService.verify_credential` accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from relaypoint_core.request_state import Principal

__all__ = ["CredentialVerifier", "TokenPair"]


@runtime_checkable
class CredentialVerifier(Protocol):
    """Another kind of bearer credential, recognised by its shape (e.g. an ``rpk_`` prefix)."""

    def claims(self, credential: str) -> bool:
        """Whether ``credential`` looks like one of this verifier's (no I/O)."""
        ...

    async def verify(self, credential: str) -> Principal: ...


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What login and refresh return; `to_response` is the documented JSON shape."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "refresh_expires_in": self.refresh_expires_in,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenPair:
        return cls(
            str(data["access_token"]),
            str(data["refresh_token"]),
            int(data["expires_in"]),
            int(data["refresh_expires_in"]),
        )

    def to_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
