"""Typed JSON/msgpack round trips, pydantic models, and signed pickle that refuses tampering."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from pydantic import BaseModel

from relaypoint_cache import (
    MISSING,
    CacheConfigurationError,
    JsonSerializer,
    MsgpackSerializer,
    SerializationError,
    SignedPickleSerializer,
    TamperedEntryError,
)
from relaypoint_cache.envelope import EntryMeta, pack_entry, unpack_entry
from tests.cache.conftest import MakeCache

SECRET = "s" * 16 + "e" * 16 + "cret"


class Address(BaseModel):
    city: str
    zip: str


class User(BaseModel):
    id: uuid.UUID
    name: str
    joined: dt.datetime
    address: Address
    tags: list[str] = []


SAMPLE: dict[str, Any] = {
    "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "day": dt.date(2026, 1, 2),
    "at": dt.time(3, 4, 5),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "price": Decimal("19.99"),
    "raw": b"\x00\xff",
    "set": {1, 2},
    "frozen": frozenset({"a"}),
    "nested": {"list": [1, "two", None, 3.5, True]},
    "unicode": "żółć ☃",
}
META = EntryMeta(1.0, 2.0, 3.0, 4.0, 0.5)


@pytest.mark.parametrize("serializer", [JsonSerializer(), MsgpackSerializer()])
def test_typed_round_trip(serializer: JsonSerializer | MsgpackSerializer) -> None:
    assert serializer.loads(serializer.dumps(SAMPLE)) == SAMPLE
    user = User(
        id=uuid.uuid4(),
        name="Ada",
        joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        address=Address(city="London", zip="N1"),
        tags=["x"],
    )
    decoded = serializer.loads(serializer.dumps({"user": user, "users": [user]}))
    assert decoded == {"user": user, "users": [user]}
    assert isinstance(decoded["user"], User)


def test_unserializable_values_raise_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="cannot be cached as JSON"):
        JsonSerializer().dumps(object())


def test_pickle_needs_a_strong_secret() -> None:
    with pytest.raises(CacheConfigurationError):
        SignedPickleSerializer("short")


def test_pickle_signature_binds_key_and_content() -> None:
    serializer = SignedPickleSerializer(SECRET)
    data = pack_entry(serializer, b"key-a", META, {"x": 1})
    assert unpack_entry(serializer, b"key-a", data)[1] == {"x": 1}
    with pytest.raises(TamperedEntryError):
        unpack_entry(serializer, b"key-b", data)  # moved to another key
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(TamperedEntryError):
        unpack_entry(serializer, b"key-a", flipped)
    with pytest.raises(TamperedEntryError):
        unpack_entry(SignedPickleSerializer(SECRET + "x"), b"key-a", data)
    # A JSON-configured reader never unpickles, whatever the entry claims to be.
    with pytest.raises(SerializationError):
        unpack_entry(JsonSerializer(), b"key-a", data)


class _Boom:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (pytest.fail, ("a forged pickle was loaded",))


async def test_tampered_pickle_entry_in_redis_is_refused(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    import pickle

    cache = make_cache(redis_url, key_prefix=key_prefix, serializer="pickle", pickle_secret=SECRET)
    await cache.set("k", {"x": 1}, tenant_id="acme")
    raw = redis_asyncio.Redis.from_url(redis_url)
    try:
        keys = [k async for k in raw.scan_iter(match=f"{key_prefix}cache:*:k")]
        assert len(keys) == 1
        stored = await raw.get(keys[0])
        # Keep the (valid) header and signature, swap in a malicious payload.
        forged = stored[: len(stored) - len(pickle.dumps({"x": 1}, protocol=5))]
        await raw.set(keys[0], forged + pickle.dumps(_Boom()))
        reader = make_cache(
            redis_url, key_prefix=key_prefix, serializer="pickle", pickle_secret=SECRET
        )
        assert await reader.get("k", MISSING, tenant_id="acme") is MISSING
        stats = await reader.stats()
        assert stats.errors.get("serialization") == 1
        assert await raw.get(keys[0]) is None  # the refused entry was removed
    finally:
        await raw.aclose()


async def test_values_round_trip_through_redis(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    for name in ("json", "msgpack"):
        writer = make_cache(redis_url, key_prefix=key_prefix, serializer=name)
        reader = make_cache(redis_url, key_prefix=key_prefix, serializer=name)
        await writer.set("sample", SAMPLE, tenant_id=name)
        assert await reader.get("sample", tenant_id=name) == SAMPLE


async def test_unencodable_value_from_factory_stays_in_l1(
    make_cache: MakeCache, redis_url: str, key_prefix: str
) -> None:
    cache = make_cache(redis_url, key_prefix=key_prefix)
    marker = object()
    assert await cache.get_or_set("k", lambda: marker, tenant_id="acme") is marker
    assert await cache.get("k", tenant_id="acme") is marker
    with pytest.raises(SerializationError):
        await cache.set("k2", marker, tenant_id="acme")
