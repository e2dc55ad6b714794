"""Whatever arrives as a token, verification answers with a TokenInvalidError, never a crash."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.audit import NullAuditLog
from relaypoint_core.auth import AuthService, KeyRing, SigningKey, TokenCodec, TokenInvalidError
from relaypoint_core.auth.tokens import ACCESS
from relaypoint_core.testing import FakeClock

KEY = SigningKey.hmac("f" * 48, kid="fuzz")
CLOCK = FakeClock()
SERVICE = AuthService(keys=KeyRing([KEY]), audit=NullAuditLog(), clock=CLOCK)
CODEC: TokenCodec = SERVICE.codec

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
claim_names = st.sampled_from(
    ["typ", "iss", "aud", "exp", "nbf", "iat", "sub", "jti", "tid", "roles"]
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: dict[str, Any], payload: Any) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(KEY.sign(signing_input.encode()))}"


def _valid_claims() -> dict[str, Any]:
    now = int(CLOCK.time())
    return {
        "typ": ACCESS,
        "iss": "relaypoint",
        "aud": "relaypoint-api",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "sub": "u-1",
        "jti": "j-1",
        "tid": "acme",
        "roles": ["viewer"],
    }


@settings(max_examples=150)
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,40}(\.[A-Za-z0-9_-]{0,60}){2}"))
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    with pytest.raises(TokenInvalidError):
        CODEC.decode(text, token_type=ACCESS)


@settings(max_examples=150)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_arbitrary_headers_are_refused_cleanly(header: dict[str, Any]) -> None:
    header.pop("kid", None)
    with pytest.raises(TokenInvalidError):
        CODEC.decode(_signed(header, _valid_claims()), token_type=ACCESS)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _identity(value: Any) -> bool:
    # sub, jti and tid end up in keys and logs: 1 to 256 printable characters.
    return isinstance(value, str) and 0 < len(value) <= 256 and value.isprintable()


NOW = CLOCK.time()
ACCEPTABLE: dict[str, Callable[[Any], bool]] = {
    "typ": lambda v: v == ACCESS,
    "iss": lambda v: v == "relaypoint",
    "aud": lambda v: v == "relaypoint-api" or (isinstance(v, list) and "relaypoint-api" in v),
    "exp": lambda v: _finite(v) and v + CODEC.leeway >= NOW,
    "nbf": lambda v: v is None or (_finite(v) and v <= NOW + CODEC.leeway),
    "iat": lambda v: v is None or (_finite(v) and v <= NOW + CODEC.leeway),
    "sub": _identity,
    "jti": _identity,
    "tid": lambda v: v is None or _identity(v),
    "roles": lambda v: isinstance(v, list) and all(isinstance(r, str) for r in v),
}


@settings(max_examples=300)
@given(claim_names, json_values)
def test_a_correctly_signed_token_with_one_odd_claim_never_crashes(name: str, value: Any) -> None:
    claims = _valid_claims()
    claims[name] = value
    token = _signed({"alg": "HS256", "kid": "fuzz", "typ": "JWT"}, claims)
    try:
        principal = SERVICE.decode_access_token(token)
    except TokenInvalidError:
        assert not ACCEPTABLE[name](value), f"refused a legitimate {name}={value!r}"
        return
    assert ACCEPTABLE[name](value), f"accepted {name}={value!r}"
    assert principal.user_id == claims["sub"]


@given(st.sampled_from(["exp", "nbf", "iat"]), st.sampled_from([float("nan"), float("inf")]))
def test_non_finite_times_are_refused(name: str, value: float) -> None:
    claims = _valid_claims()
    claims[name] = value
    with pytest.raises(TokenInvalidError):
        CODEC.decode(_signed({"alg": "HS256", "kid": "fuzz"}, claims), token_type=ACCESS)


def test_signed_non_object_payloads_are_refused() -> None:
    for payload in ([1, 2], "text", 3, None):
        with pytest.raises(TokenInvalidError, match="JSON object"):
            CODEC.decode(_signed({"alg": "HS256", "kid": "fuzz"}, payload), token_type=ACCESS)
