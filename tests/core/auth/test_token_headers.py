"""Hostile token headers and identity claims are invalid tokens (401), never a crash (500).

Regression tests for issue #12 item 1: a list as ``alg`` raised ``TypeError`` in the allow-list
lookup, a deeply nested header raised ``RecursionError`` in the JSON parser, and a validly
signed token with a 5,000-character ``sub`` reached the rate limiter and failed there.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from relaypoint_core.auth import KeyRing, SigningKey, TokenCodec, TokenInvalidError
from relaypoint_core.auth.tokens import ACCESS
from relaypoint_core.testing import FakeClock

KEY = SigningKey.hmac("h" * 48, kid="hs-1")
CODEC = TokenCodec(KeyRing([KEY]), issuer="rp", audience="api", clock=FakeClock())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: Any, claims: dict[str, Any], *, raw_header: bytes | None = None) -> str:
    head = _b64(raw_header if raw_header is not None else json.dumps(header).encode())
    signing_input = f"{head}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(KEY.sign(signing_input.encode()))}"


def _claims(**overrides: Any) -> dict[str, Any]:
    _, claims = CODEC.encode({"sub": "u-1", "tid": "acme"}, token_type=ACCESS, ttl=60)
    return {**claims, **overrides}


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["HS256"], "kid": "hs-1"},
        {"alg": {"HS256": 1}, "kid": "hs-1"},
        {"alg": None, "kid": "hs-1"},
        {"alg": "HS256", "kid": ["hs-1"]},
        {"alg": "HS256", "kid": {"a": 1}},
        {"alg": "HS256", "kid": 7},
        {"alg": "HS256", "kid": ""},
        {"alg": "HS256", "kid": "k" * 300},
    ],
    ids=repr,
)
def test_a_header_of_the_wrong_shape_is_an_invalid_token(header: dict[str, Any]) -> None:
    with pytest.raises(TokenInvalidError):
        CODEC.decode(_signed(header, _claims()), token_type=ACCESS)


def test_a_deeply_nested_header_is_an_invalid_token() -> None:
    nested = b'{"alg":"HS256","kid":"hs-1","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(TokenInvalidError):
        CODEC.decode(_signed(None, _claims(), raw_header=nested), token_type=ACCESS)


def test_a_nested_header_short_enough_to_pass_the_length_cap_still_fails_cleanly() -> None:
    nested = b"[" * 380 + b"]" * 380
    with pytest.raises(TokenInvalidError):
        CODEC.decode(_signed(None, _claims(), raw_header=nested), token_type=ACCESS)


def test_an_oversized_header_is_refused_before_it_is_parsed() -> None:
    header = {"alg": "HS256", "kid": "hs-1", "pad": "p" * 2000}
    with pytest.raises(TokenInvalidError, match="too long"):
        CODEC.decode(_signed(header, _claims()), token_type=ACCESS)


def test_the_error_does_not_echo_the_kid() -> None:
    with pytest.raises(TokenInvalidError) as caught:
        CODEC.decode(_signed({"alg": "HS256", "kid": "<script>"}, _claims()), token_type=ACCESS)
    assert "<script>" not in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "s" * 5000},
        {"sub": ""},
        {"sub": "u\x00-1"},
        {"jti": "j" * 5000},
        {"tid": "t" * 5000},
        {"tid": "ac\nme"},
    ],
    ids=lambda o: f"{next(iter(o))}={next(iter(o.values()))[:8]!r}",
)
def test_a_validly_signed_token_with_an_unusable_identity_claim_is_invalid(
    overrides: dict[str, Any],
) -> None:
    token = _signed({"alg": "HS256", "kid": "hs-1", "typ": "JWT"}, _claims(**overrides))
    with pytest.raises(TokenInvalidError):
        CODEC.decode(token, token_type=ACCESS)


def test_a_well_formed_token_still_verifies() -> None:
    token = _signed({"alg": "HS256", "kid": "hs-1", "typ": "JWT"}, _claims())
    assert CODEC.decode(token, token_type=ACCESS)["sub"] == "u-1"
