"""The storable-text and safe-id rules that keep NUL, lone surrogates and overlong ids out of
SQL, Redis keys and error messages (issue #12 item 3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from relaypoint_core.errors import RelayPointError
from relaypoint_core.text import (
    InvalidTextError,
    StorableStr,
    check_storable,
    is_safe_id,
    is_storable,
)


class Body(BaseModel):
    name: StorableStr


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\ud800", "ok\udfffok"])
def test_nul_and_lone_surrogates_are_not_storable(value: str) -> None:
    assert not is_storable(value)
    with pytest.raises(InvalidTextError) as caught:
        check_storable(value)
    assert isinstance(caught.value, RelayPointError)
    assert isinstance(caught.value, ValueError)
    assert value not in str(caught.value)


@given(st.text())
def test_text_is_storable_exactly_when_it_has_no_nul_and_encodes_as_utf8(value: str) -> None:
    # hypothesis' text() never yields surrogates, so every value without NUL is storable
    assert is_storable(value) == ("\x00" not in value)


def test_a_storable_str_field_refuses_nul_with_a_validation_error() -> None:
    assert Body(name="Ünïcode ✓ \u202e").name == "Ünïcode ✓ \u202e"
    with pytest.raises(ValidationError):
        Body(name="a\x00b")
    with pytest.raises(ValidationError):
        Body.model_validate_json('{"name": "\\ud800"}')


@pytest.mark.parametrize(
    "value", ["acme", "0f" * 16, "550e8400-e29b-41d4-a716-446655440000", "a_b"]
)
def test_slugs_hex_and_uuid_ids_are_safe(value: str) -> None:
    assert is_safe_id(value)


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "a\x00b", "a:b", "{t=acme}", "*", "a b", "é", 7, None]
)
def test_anything_else_is_not_a_safe_id(value: object) -> None:
    assert not is_safe_id(value)


def test_the_length_limit_is_configurable() -> None:
    assert is_safe_id("x" * 32, max_length=32)
    assert not is_safe_id("x" * 33, max_length=32)
