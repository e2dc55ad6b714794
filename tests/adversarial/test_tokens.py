"""Crafted JWTs against the live app: never a 500, always rate limited, never accepted.

Issue #12 item 1: a list as ``alg`` or a deeply nested header answered 500 (and was never rate
limited), and a validly signed token with a 5,000-character ``sub`` answered 500. The hardened
app has a known ``SECRET_KEY`` (so the test can sign tokens with the real key) and the FREE
anonymous tier (60/minute per address) so that the rate limit is reachable.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypoint_core.auth import SigningKey
from tests.adversarial.conftest import API, HARDENED_KEY, HardenedApp, LiveApp

REAL_KEY = HARDENED_KEY
WRONG_KEY = SigningKey.hmac("another-" + "x" * 40, kid=REAL_KEY.kid)


@pytest.fixture
def keyed_app(hardened: HardenedApp) -> LiveApp:
    return hardened.app


_ADDRESSES = itertools.count(1)


def _from(address: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(
    header: Any, claims: Any, key: SigningKey = REAL_KEY, *, raw: bytes | None = None
) -> str:
    head = _b64(raw if raw is not None else json.dumps(header).encode())
    signing_input = f"{head}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "forged-user",
        "tid": "acme",
        "roles": ["super_admin"],
        "typ": "access",
        "iss": "relaypoint",
        "aud": "relaypoint-api",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j-1",
    }
    claims.update(overrides)
    return claims


GOOD_HEADER = {"alg": "HS256", "kid": REAL_KEY.kid, "typ": "JWT"}
HOSTILE_TOKENS = {
    "alg-list": _token({"alg": ["HS256"], "kid": "x"}, _claims()),
    "alg-object": _token({"alg": {"HS256": True}, "kid": REAL_KEY.kid}, _claims()),
    "kid-list": _token({"alg": "HS256", "kid": [REAL_KEY.kid]}, _claims()),
    "kid-number": _token({"alg": "HS256", "kid": 12}, _claims()),
    "deep-header": _token(None, _claims(), raw=b"[" * 600 + b"]" * 600),
    "oversized-header": _token({**GOOD_HEADER, "x": "p" * 3000}, _claims()),
    "alg-none": _token({"alg": "none", "kid": REAL_KEY.kid}, _claims()).rsplit(".", 1)[0] + ".",
    "signed-long-sub": _token(GOOD_HEADER, _claims(sub="s" * 5000)),
    "signed-long-tid": _token(GOOD_HEADER, _claims(tid="t" * 5000)),
    "signed-nul-sub": _token(GOOD_HEADER, _claims(sub="a\x00b")),
    "wrong-key": _token(GOOD_HEADER, _claims(), WRONG_KEY),
    "expired": _token(GOOD_HEADER, _claims(exp=int(time.time()) - 3600)),
    "refresh-as-access": _token(GOOD_HEADER, _claims(typ="refresh")),
    "garbage": "not-a-token",
}


def test_each_hostile_token_is_a_401_with_rate_limit_headers(keyed_app: LiveApp) -> None:
    with keyed_app.client() as client:
        for name, token in HOSTILE_TOKENS.items():
            response = client.get(f"{API}/workflows", headers=_from("198.51.100.1", token))
            assert response.status_code == 401, (name, response.text)
            assert "x-ratelimit-remaining" in response.headers, name
            assert response.headers["content-type"].startswith("application/problem+json")


def test_hostile_tokens_spend_the_callers_rate_limit_like_garbage(keyed_app: LiveApp) -> None:
    tokens = list(HOSTILE_TOKENS.values())
    statuses: list[int] = []
    remaining: list[int] = []
    with keyed_app.client() as client:
        for i in range(80):
            response = client.get(
                f"{API}/workflows", headers=_from("198.51.100.2", tokens[i % len(tokens)])
            )
            statuses.append(response.status_code)
            if response.status_code == 401:
                remaining.append(int(response.headers["x-ratelimit-remaining"]))
            if response.status_code == 429:
                break
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[-1] == 429, "80 hostile tokens from one address were never rate limited"
    assert remaining == sorted(remaining, reverse=True)
    assert "Traceback" not in keyed_app.log()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "tid", "roles", "typ", "exp", "jti", "iss", "aud", "x"]),
        st.none() | st.integers() | st.text(max_size=20) | st.lists(st.text(max_size=5)),
    )
)
def test_no_token_signed_with_another_key_is_accepted(
    keyed_app: LiveApp, claims: dict[str, Any]
) -> None:
    token = _token(GOOD_HEADER, {**_claims(), **claims}, WRONG_KEY)
    address = f"203.0.113.{next(_ADDRESSES)}"  # a fresh client address per example
    with keyed_app.client() as client:
        refresh = client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": token},
            headers={"X-Forwarded-For": address},
        )
        access = client.get(f"{API}/auth/me", headers=_from(address, token))
    assert refresh.status_code == 401, refresh.text
    assert access.status_code == 401, access.text
