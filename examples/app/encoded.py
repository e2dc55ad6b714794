"""JSON bodies encoded once per cached value, and the encoding FastAPI's ``JSONResponse`` uses.

A cached read returns the very object the in-process cache holds until the entry is replaced, so
its encoded body can be kept beside it and reused while the cache hands out the same object
(checked by identity: a reloaded or invalidated entry is a new object and is encoded afresh).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["EncodedItems", "encode_json"]


def encode_json(value: Any) -> bytes:
    """``value`` as ``JSONResponse`` would send it (compact, UTF-8, no NaN)."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class EncodedItems:
    """The encoded body of the last object seen per ``(tenant, key)``, at most ``size`` of them.

    Args:
        size: Most bodies kept; when full, every body is dropped (they are cheap to rebuild).
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._bodies: dict[tuple[str, str], tuple[object, bytes]] = {}

    def get(self, tenant: str, key: str, value: object) -> bytes:
        """The body of ``value``, encoded now unless ``value`` is the object encoded last time."""
        slot = (tenant, key)
        kept = self._bodies.get(slot)
        if kept is not None and kept[0] is value:
            return kept[1]
        body = encode_json(value)
        if len(self._bodies) >= self._size:
            self._bodies.clear()
        self._bodies[slot] = (value, body)
        return body
