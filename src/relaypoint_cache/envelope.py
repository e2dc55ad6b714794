"""The stored form of an L2 entry: a fixed binary header, an optional signature, the payload.

The header carries what stampede protection and the staleness windows need in every process:
when the value was written, when it stops being fresh, how long it may still be served while
revalidating (RFC 5861 ``stale-while-revalidate``) or when the origin fails (``stale-if-error``),
and how long it took to compute (XFetch uses that to refresh expensive values earlier).
"""

from __future__ import annotations

import json
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
    """Wall-clock times (seconds since the epoch) of one entry, its compute time and tags.

    ``tags`` pairs each tag with the tag's version when the entry was written; the entry is
    valid only while every tag still has that version. A NamedTuple because one is built on
    every L2 read (cheaper than a frozen dataclass).
    """

    created: float
    fresh_until: float
    swr_until: float
    sie_until: float
    delta: float
    tags: tuple[tuple[str, int], ...] = ()

    @property
    def stale_end(self) -> float:
        return max(self.fresh_until, self.swr_until, self.sie_until)


_FLAG_TAGS = 1
_TAGS_LENGTH = struct.Struct("!I")


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
        _FLAG_TAGS if meta.tags else 0,
        meta.created,
        meta.fresh_until,
        meta.swr_until,
        meta.sie_until,
        meta.delta,
    )
    if meta.tags:
        block = json.dumps([list(pair) for pair in meta.tags], separators=(",", ":")).encode()
        header += _TAGS_LENGTH.pack(len(block)) + block
    if isinstance(serializer, SignedPickleSerializer):
        return header + serializer.sign(redis_key, header + payload) + payload
    return header + payload


def _read_tags(data: bytes) -> tuple[tuple[tuple[str, int], ...], int]:
    """The tag block after the fixed header and where the rest starts."""
    start = _HEADER.size + _TAGS_LENGTH.size
    if len(data) < start:
        raise SerializationError("stored cache entry is truncated")
    (length,) = _TAGS_LENGTH.unpack_from(data, _HEADER.size)
    try:
        pairs = json.loads(data[start : start + length])
        tags = tuple((str(tag), int(version)) for tag, version in pairs)
    except (ValueError, TypeError, RecursionError) as exc:
        raise SerializationError(f"stored cache entry has a corrupt tag block: {exc}") from exc
    return tags, start + length


def unpack_entry(serializer: Serializer, redis_key: bytes, data: bytes) -> tuple[EntryMeta, Any]:
    """Decode ``data``; raises `SerializationError` (or ``TamperedEntryError``) if untrusted."""
    if len(data) < _HEADER.size:
        raise SerializationError("stored cache entry is truncated")
    magic, fmt, codec_id, flags, created, fresh, swr, sie, delta = _HEADER.unpack_from(data)
    if magic != _MAGIC or fmt != _FORMAT:
        raise SerializationError("stored cache entry has an unknown format")
    body_start = _HEADER.size
    tags: tuple[tuple[str, int], ...] = ()
    if flags & _FLAG_TAGS:
        tags, body_start = _read_tags(data)
    meta = EntryMeta(created, fresh, swr, sie, delta, tags)
    body = data[body_start:]
    if codec_id == SignedPickleSerializer.codec_id:
        # Pickle is decoded only by a serializer configured for it, and only once the tag
        # (always HMAC-SHA256, whatever the entry claims) matches this key and content. The
        # signature covers the header and the tag block too.
        if not isinstance(serializer, SignedPickleSerializer):
            raise SerializationError(
                "stored entry is pickled but this cache is not configured for signed pickle"
            )
        mac, payload = body[: serializer.tag_size], body[serializer.tag_size :]
        serializer.verify(redis_key, data[:body_start] + payload, mac)
        return meta, serializer.loads(payload)
    if codec_id == serializer.codec_id:
        return meta, serializer.loads(body)
    decoder = _unsigned_decoder(codec_id)
    if decoder is None:
        raise SerializationError(f"stored cache entry uses unknown codec {codec_id}")
    return meta, decoder.loads(body)
