"""The stored form of an L2 entry: a fixed binary header, an optional signature, the payload.

The header carries what stampede protection and the staleness windows need in every process:
when the value was written, when it stops being fresh, how long it may still be served while
revalidating (RFC 5861 ``stale-while-revalidate``) or when the origin fails (``stale-if-error``),
and how long it took to compute (XFetch uses that to refresh expensive values earlier).
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from relaypoint_cache.errors import SerializationError
from relaypoint_cache.serializers import (
    JsonSerializer,
    MsgpackSerializer,
    Serializer,
    SignedPickleSerializer,
)

__all__ = ["EntryMeta", "pack_entry", "unpack_entry"]

_MAGIC = b"\xc7R"
_FORMAT = 1
_HEADER = struct.Struct("!2sBBB5d")


class EntryMeta(NamedTuple):
    """Wall-clock times (seconds since the epoch) of one entry and its compute time.

    A NamedTuple because one is built on every L2 read (cheaper than a frozen dataclass).
    """

    created: float
    fresh_until: float
    swr_until: float
    sie_until: float
    delta: float

    @property
    def stale_end(self) -> float:
        return max(self.fresh_until, self.swr_until, self.sie_until)


_UNSIGNED_DECODERS: dict[int, Serializer] = {}


def _unsigned_decoder(codec_id: int) -> Serializer | None:
    if not _UNSIGNED_DECODERS:
        _UNSIGNED_DECODERS[JsonSerializer.codec_id] = JsonSerializer()
        _UNSIGNED_DECODERS[MsgpackSerializer.codec_id] = MsgpackSerializer()
    return _UNSIGNED_DECODERS.get(codec_id)


def pack_entry(serializer: Serializer, redis_key: bytes, meta: EntryMeta, value: Any) -> bytes:
    payload = serializer.dumps(value)
    header = _HEADER.pack(
        _MAGIC,
        _FORMAT,
        serializer.codec_id,
        0,
        meta.created,
        meta.fresh_until,
        meta.swr_until,
        meta.sie_until,
        meta.delta,
    )
    if isinstance(serializer, SignedPickleSerializer):
        return header + serializer.sign(redis_key, header + payload) + payload
    return header + payload


def unpack_entry(serializer: Serializer, redis_key: bytes, data: bytes) -> tuple[EntryMeta, Any]:
    """Decode ``data``; raises :class:`SerializationError` (or ``TamperedEntryError``) if untrusted."""
    if len(data) < _HEADER.size:
        raise SerializationError("stored cache entry is truncated")
    magic, fmt, codec_id, _flags, created, fresh, swr, sie, delta = _HEADER.unpack_from(data)
    if magic != _MAGIC or fmt != _FORMAT:
        raise SerializationError("stored cache entry has an unknown format")
    meta = EntryMeta(created, fresh, swr, sie, delta)
    body = data[_HEADER.size :]
    if codec_id == SignedPickleSerializer.codec_id:
        # Pickle is decoded only by a serializer configured for it, and only once the tag
        # (always HMAC-SHA256, whatever the entry claims) matches this key and content.
        if not isinstance(serializer, SignedPickleSerializer):
            raise SerializationError(
                "stored entry is pickled but this cache is not configured for signed pickle"
            )
        tag, payload = body[: serializer.tag_size], body[serializer.tag_size :]
        serializer.verify(redis_key, data[: _HEADER.size] + payload, tag)
        return meta, serializer.loads(payload)
    if codec_id == serializer.codec_id:
        return meta, serializer.loads(body)
    decoder = _unsigned_decoder(codec_id)
    if decoder is None:
        raise SerializationError(f"stored cache entry uses unknown codec {codec_id}")
    return meta, decoder.loads(body)
