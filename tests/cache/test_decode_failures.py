"""A stored entry that fails to decode is a miss plus a counted error, never an exception, and
only registered model classes are ever rebuilt from an entry (issue #12 item 8)."""

from __future__ import annotations

import contextlib
import json
import struct
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from relaypoint_cache import (
    MISSING,
    CacheConfigurationError,
    JsonSerializer,
    MsgpackSerializer,
    SerializationError,
    register_model,
)
from relaypoint_cache.envelope import EntryMeta, pack_entry, unpack_entry
from tests.cache.conftest import MakeCache

META = EntryMeta(1.0, 2.0, 3.0, 4.0, 0.5)
DEEP = b"[" * 100_000 + b"]" * 100_000


class Registered(BaseModel):
    name: str


class NeverRegistered(BaseModel):
    secret: str = "x"


register_model(Registered)


def _json_entry(body: bytes) -> bytes:
    """A well-formed envelope (JSON codec) around ``body``."""
    return pack_entry(JsonSerializer(), b"k", META, 0)[: -len(b"0")] + body


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        b'{"__rp_type__":"model","c":"relaypoint_core.config:RelayPointSettings","v":{}}',
        b'{"__rp_type__":"model","c":"tests.cache.test_decode_failures:NeverRegistered","v":{}}',
        b'{"__rp_type__":"model","c":"tests.cache.test_decode_failures:Registered","v":7}',
        b'{"__rp_type__":"model","c":"tests.cache.test_decode_failures:Registered","v":'
        + DEEP
        + b"}",
        b'{"__rp_type__":"set","v":5}',
        b'{"__rp_type__":"datetime","v":[1]}',
        b'{"__rp_type__":"decimal","v":"not a number"}',
        b"\xff\xfe",
    ],
    ids=[
        "deep",
        "settings",
        "unregistered",
        "wrong-model-value",
        "deep-model",
        "set-of-int",
        "datetime-list",
        "decimal",
        "bad-utf8",
    ],
)
def test_a_hostile_json_entry_raises_only_serialization_error(body: bytes) -> None:
    with pytest.raises(SerializationError):
        unpack_entry(JsonSerializer(), b"k", _json_entry(body))


def test_a_deeply_nested_tag_block_is_a_serialization_error() -> None:
    header = pack_entry(JsonSerializer(), b"k", META._replace(tags=(("t", 1),)), 0)
    fixed = header[: struct.calcsize("!2sBBB5d")]
    forged = fixed + struct.pack("!I", len(DEEP)) + DEEP + b"0"
    with pytest.raises(SerializationError):
        unpack_entry(JsonSerializer(), b"k", forged)


@pytest.mark.parametrize("serializer", [JsonSerializer(), MsgpackSerializer()])
def test_only_registered_models_are_rebuilt(serializer: JsonSerializer | MsgpackSerializer) -> None:
    assert serializer.loads(serializer.dumps(Registered(name="a"))) == Registered(name="a")
    # An entry naming an importable but unregistered BaseModel is refused, not validated.
    forged = serializer.dumps(Registered(name="a")).replace(
        b"tests.cache.test_decode_failures:Registered",
        b"relaypoint_core.config:RelayPointSettings.",
    )
    with pytest.raises(SerializationError):
        serializer.loads(forged)


def test_encoding_a_model_registers_it_for_this_process() -> None:
    class Local(BaseModel):
        n: int

    serializer = JsonSerializer()
    path = f"{Local.__module__}:{Local.__qualname__}".encode()
    stored = json.dumps({"__rp_type__": "model", "c": path.decode(), "v": {"n": 1}}).encode()
    with pytest.raises(SerializationError):
        serializer.loads(stored)
    serializer.dumps(Local(n=2))
    assert serializer.loads(stored) == Local(n=1)


def test_register_model_refuses_what_is_not_a_model() -> None:
    with pytest.raises(CacheConfigurationError):
        register_model(dict)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["__rp_type__", "v", "c", "x"]), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200)
@given(json_values, st.sampled_from(["model", "set", "datetime", "uuid", "bytes", "decimal"]))
def test_any_typed_marker_decodes_or_raises_serialization_error(value: Any, kind: str) -> None:
    body = json.dumps({"__rp_type__": kind, "v": value, "c": "x:Y"}).encode()
    with contextlib.suppress(SerializationError):
        JsonSerializer().loads(body)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_any_msgpack_bytes_decode_or_raise_serialization_error(data: bytes) -> None:
    with contextlib.suppress(SerializationError):
        MsgpackSerializer().loads(data)


async def test_a_tampered_redis_entry_is_a_miss_and_a_counted_error(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    cache = make_cache(redis_url, key_prefix=key_prefix)
    await cache.set("k", {"ok": 1}, tenant_id="acme")
    raw = redis_asyncio.Redis.from_url(redis_url)
    try:
        keys = [k async for k in raw.scan_iter(match=f"{key_prefix}cache:*:k")]
        assert len(keys) == 1
        await raw.set(keys[0], _json_entry(DEEP))
        reader = make_cache(redis_url, key_prefix=key_prefix)
        assert await reader.get("k", MISSING, tenant_id="acme") is MISSING
        assert (await reader.stats()).errors.get("serialization") == 1
        assert await reader.get_or_set("k", lambda: {"ok": 2}, tenant_id="acme") == {"ok": 2}
    finally:
        await raw.aclose()
