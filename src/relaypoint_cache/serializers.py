"""Value codecs: JSON and msgpack with typed extensions (safe by default), signed pickle by opt-in.

JSON and msgpack round-trip the types an API caches: ``datetime``/``date``/``time``, ``UUID``,
``Decimal``, ``bytes``, ``set``/``frozenset`` and pydantic models (tuples come back as lists, as in
every JSON cache). A pydantic model is stored with its class path and rebuilt only if that class is
*registered*: by `register_model`, or by this process having encoded a value of it. Decoding
never imports a module and never rebuilds a class merely because it is importable (an entry naming
``relaypoint_core.config:RelayPointSettings`` is refused, not validated). An entry naming any other
class, or failing to decode in any way (corrupt, nested past the recursion limit, a typed value of
the wrong type) raises `SerializationError`, which the cache turns into a miss plus a
counted error.

Pickle runs code while loading, so it is never the default and never unsigned: every pickled entry
carries an HMAC-SHA256 over the Redis key, the envelope header and the payload. The algorithm is
fixed here, never read from the stored bytes, and the tag is compared in constant time. An entry
that fails the check raises `TamperedEntryError` and is not unpickled.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import pickle
import uuid
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from relaypoint_cache.errors import CacheConfigurationError, SerializationError, TamperedEntryError

__all__ = [
    "JsonSerializer",
    "MsgpackSerializer",
    "Serializer",
    "SignedPickleSerializer",
    "make_serializer",
    "register_model",
]

_TYPE_KEY = "__rp_type__"
_MIN_SECRET_BYTES = 32


class Serializer(Protocol):
    """Turns a value into bytes and back. ``codec_id`` is written into every stored entry."""

    codec_id: int
    signed: bool

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, payload: bytes) -> Any: ...


_MODELS: dict[str, type[Any]] = {}

M = TypeVar("M", bound=type[Any])


def register_model(cls: M) -> M:
    """Allow cached entries to be rebuilt as ``cls`` (a pydantic model); usable as a decorator.

    A process that caches values of ``cls`` registers it by encoding one; register explicitly in
    processes that only read such entries, or they miss (and recompute) until they write one.

    Args:
        cls: A pydantic ``BaseModel`` subclass.

    Returns:
        ``cls``, unchanged.

    Raises:
        CacheConfigurationError: ``cls`` is not a pydantic model class.
    """
    from pydantic import BaseModel

    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise CacheConfigurationError(f"register_model needs a pydantic model class, got {cls!r}")
    _MODELS[f"{cls.__module__}:{cls.__qualname__}"] = cls
    return cls


def _model_class(path: str) -> Any:
    """The registered model class stored as ``module:QualName``; anything else is refused."""
    cls = _MODELS.get(path)
    if cls is None:
        raise SerializationError(
            "stored entry names a model class that is not registered in this process "
            "(relaypoint_cache.register_model)"
        )
    return cls


def _model_path(value: Any) -> str | None:
    cls = type(value)
    if hasattr(cls, "model_dump") and hasattr(cls, "model_validate"):
        path = f"{cls.__module__}:{cls.__qualname__}"
        if path not in _MODELS:
            register_model(cls)  # this process caches it, so it may read it back
        return path
    return None


def _json_default(value: Any) -> Any:
    # Order matters: datetime is a subclass of date.
    if isinstance(value, _dt.datetime):
        return {_TYPE_KEY: "datetime", "v": value.isoformat()}
    if isinstance(value, _dt.date):
        return {_TYPE_KEY: "date", "v": value.isoformat()}
    if isinstance(value, _dt.time):
        return {_TYPE_KEY: "time", "v": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {_TYPE_KEY: "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {_TYPE_KEY: "decimal", "v": str(value)}
    if isinstance(value, bytes | bytearray):
        return {_TYPE_KEY: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, frozenset):
        return {_TYPE_KEY: "frozenset", "v": list(value)}
    if isinstance(value, set):
        return {_TYPE_KEY: "set", "v": list(value)}
    path = _model_path(value)
    if path is not None:
        return {_TYPE_KEY: "model", "c": path, "v": value.model_dump(mode="json")}
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _json_object_hook(obj: dict[str, Any]) -> Any:
    kind = obj.get(_TYPE_KEY)
    if kind is None or len(obj) > 3:
        return obj
    raw: Any = obj.get("v")
    try:
        if kind == "datetime":
            return _dt.datetime.fromisoformat(raw)
        if kind == "date":
            return _dt.date.fromisoformat(raw)
        if kind == "time":
            return _dt.time.fromisoformat(raw)
        if kind == "uuid":
            return uuid.UUID(raw)
        if kind == "decimal":
            return Decimal(raw)
        if kind == "bytes":
            return base64.b64decode(raw, validate=True)
        if kind == "set":
            return set(raw)
        if kind == "frozenset":
            return frozenset(raw)
        if kind == "model":
            return _model_class(str(obj.get("c", ""))).model_validate(raw)
    except SerializationError:
        raise
    except Exception as exc:  # untrusted bytes: UUID([]) is an AttributeError, Decimal("x") not
        # a ValueError; whatever a typed decoder raises, the entry is corrupt
        raise SerializationError(f"stored {kind} value cannot be decoded: {exc}") from exc
    return obj


class JsonSerializer:
    """JSON with typed extensions; the default."""

    codec_id = 1
    signed = False

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            default=_json_default, ensure_ascii=False, separators=(",", ":")
        )
        self._decoder = json.JSONDecoder(object_hook=_json_object_hook)

    def dumps(self, value: Any) -> bytes:
        try:
            return self._encoder.encode(value).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SerializationError(
                f"value of type {type(value).__name__} cannot be cached as JSON ({exc}); use a "
                "pydantic model, a plain structure, or serializer='msgpack'"
            ) from exc

    def loads(self, payload: bytes) -> Any:
        try:
            return self._decoder.decode(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise SerializationError(f"stored JSON entry is corrupt: {exc}") from exc


_EXT_DATETIME, _EXT_DATE, _EXT_TIME, _EXT_UUID, _EXT_DECIMAL, _EXT_SET, _EXT_FROZENSET = range(1, 8)
_EXT_MODEL = 8


class MsgpackSerializer:
    """msgpack with typed extension codes; compact and faster than JSON for large values."""

    codec_id = 2
    signed = False

    def __init__(self) -> None:
        import msgpack

        self._msgpack = msgpack

    def _default(self, value: Any) -> Any:
        pack = self._pack
        ext = self._msgpack.ExtType
        if isinstance(value, _dt.datetime):
            return ext(_EXT_DATETIME, value.isoformat().encode())
        if isinstance(value, _dt.date):
            return ext(_EXT_DATE, value.isoformat().encode())
        if isinstance(value, _dt.time):
            return ext(_EXT_TIME, value.isoformat().encode())
        if isinstance(value, uuid.UUID):
            return ext(_EXT_UUID, value.bytes)
        if isinstance(value, Decimal):
            return ext(_EXT_DECIMAL, str(value).encode())
        if isinstance(value, frozenset):
            return ext(_EXT_FROZENSET, pack(list(value)))
        if isinstance(value, set):
            return ext(_EXT_SET, pack(list(value)))
        path = _model_path(value)
        if path is not None:
            return ext(_EXT_MODEL, pack([path, value.model_dump(mode="json")]))
        raise TypeError(f"{type(value).__name__} is not msgpack-serializable")

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _EXT_DATETIME:
            return _dt.datetime.fromisoformat(data.decode())
        if code == _EXT_DATE:
            return _dt.date.fromisoformat(data.decode())
        if code == _EXT_TIME:
            return _dt.time.fromisoformat(data.decode())
        if code == _EXT_UUID:
            return uuid.UUID(bytes=data)
        if code == _EXT_DECIMAL:
            return Decimal(data.decode())
        if code == _EXT_SET:
            return set(self._unpack(data))
        if code == _EXT_FROZENSET:
            return frozenset(self._unpack(data))
        if code == _EXT_MODEL:
            path, raw = self._unpack(data)
            return _model_class(str(path)).model_validate(raw)
        return self._msgpack.ExtType(code, data)

    def _pack(self, value: Any) -> bytes:
        packed: bytes = self._msgpack.packb(value, default=self._default, use_bin_type=True)
        return packed

    def _unpack(self, data: bytes) -> Any:
        return self._msgpack.unpackb(data, ext_hook=self._ext_hook, raw=False, strict_map_key=False)

    def dumps(self, value: Any) -> bytes:
        try:
            return self._pack(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SerializationError(
                f"value of type {type(value).__name__} cannot be cached as msgpack ({exc})"
            ) from exc

    def loads(self, payload: bytes) -> Any:
        try:
            return self._unpack(payload)
        except SerializationError:
            raise
        except Exception as exc:  # untrusted bytes: any failure of the codec is a corrupt entry
            raise SerializationError(f"stored msgpack entry is corrupt: {exc}") from exc


class SignedPickleSerializer:
    """Pickle, opt-in only, every entry signed with HMAC-SHA256 bound to its key.

    ``secret`` must be at least 32 bytes and shared by every process that reads the cache.
    """

    codec_id = 3
    signed = True
    tag_size = hashlib.sha256().digest_size

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < _MIN_SECRET_BYTES:
            raise CacheConfigurationError(
                f"the pickle serializer needs a signing secret of at least {_MIN_SECRET_BYTES} "
                "bytes (pass pickle_secret=...); pickle without a signature is never allowed"
            )
        self._key = key

    def sign(self, redis_key: bytes, signed_part: bytes) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        mac.update(len(redis_key).to_bytes(4, "big"))
        mac.update(redis_key)
        mac.update(signed_part)
        return mac.digest()

    def verify(self, redis_key: bytes, signed_part: bytes, tag: bytes) -> None:
        if not hmac.compare_digest(self.sign(redis_key, signed_part), tag):
            raise TamperedEntryError(
                "cache entry signature does not match its key and content; refusing to unpickle"
            )

    def dumps(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(f"value cannot be pickled: {exc}") from exc

    def loads(self, payload: bytes) -> Any:
        # Only ever called by the envelope after verify() succeeded.
        return pickle.loads(payload)  # noqa: S301


def make_serializer(name: str, *, pickle_secret: str | bytes | None = None) -> Serializer:
    """Build a serializer by name: ``"json"`` (default), ``"msgpack"`` or ``"pickle"`` (signed)."""
    if name == "json":
        return JsonSerializer()
    if name == "msgpack":
        return MsgpackSerializer()
    if name == "pickle":
        if pickle_secret is None:
            raise CacheConfigurationError(
                "serializer='pickle' requires pickle_secret=... (32+ bytes): pickled cache "
                "entries are always signed"
            )
        return SignedPickleSerializer(pickle_secret)
    raise CacheConfigurationError(
        f"unknown serializer {name!r}; use 'json', 'msgpack' or 'pickle' (with pickle_secret)"
    )
