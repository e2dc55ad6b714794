"""Small operations on ASGI raw header lists (``[(name, value), ...]`` of bytes)."""

from __future__ import annotations

from collections.abc import Iterable

from relaypoint_core.errors import ConfigurationError

__all__ = ["add_vary", "encode_header", "header_names", "header_value", "request_header"]

_FORBIDDEN = frozenset(b"\r\n\x00")


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """``(name, value)`` as the lower-case latin-1 bytes ASGI sends.

    Raises:
        ConfigurationError: The name is empty or either part holds a CR, LF or NUL (a header
            injection), or is not latin-1.
    """
    try:
        raw = (name.strip().lower().encode("latin-1"), value.encode("latin-1"))
    except UnicodeEncodeError:
        raise ConfigurationError(f"header {name!r} must be latin-1 text") from None
    if not raw[0] or any(byte in _FORBIDDEN for part in raw for byte in part):
        raise ConfigurationError(f"header {name!r} has an empty name or a CR, LF or NUL")
    return raw


def request_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of ``name`` in an ASGI *scope*'s headers (their names are lower-case)."""
    for key, value in headers:
        if key == name:
            return value
    return None


def header_names(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Every name of a response's headers, lower-cased, each between NUL bytes.

    ``b"\0content-type\0" in header_names(headers)`` asks whether a header is present in any
    case with one lower-casing for the whole list instead of one per header (NUL cannot occur
    in a header name).
    """
    return b"\0" + b"\0".join([key for key, _ in headers]).lower() + b"\0"


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of ``name`` (lower-case bytes), matched case-insensitively."""
    for key, value in headers:
        if key == name or key.lower() == name:
            return value
    return None


def add_vary(headers: list[tuple[bytes, bytes]], token: bytes) -> None:
    """Make the response's ``Vary`` name ``token`` (in place; ``Vary: *`` already covers it)."""
    for index, (key, value) in enumerate(headers):
        if key.lower() != b"vary":
            continue
        present = {part.strip().lower() for part in value.split(b",")}
        if token.lower() not in present and b"*" not in present:
            headers[index] = (key, value + b", " + token if value.strip() else token)
        return
    headers.append((b"vary", token))
