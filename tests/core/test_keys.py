from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypoint_core import ConfigurationError, KeyScheme, escape_key_part

SPECIAL = st.text(alphabet=st.sampled_from(list(":{}*?[]\\% \n=_aé😀")), min_size=1, max_size=12)
ANY_TEXT = st.one_of(SPECIAL, st.text(min_size=1, max_size=30))


@given(ANY_TEXT)
def test_escaped_part_has_no_structural_characters(part: str) -> None:
    escaped = escape_key_part(part)
    assert not set(escaped) & set(":{}*?[]\\ \n")


@given(ANY_TEXT, ANY_TEXT)
def test_escape_is_injective(a: str, b: str) -> None:
    if a != b:
        assert escape_key_part(a) != escape_key_part(b)


@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_keys_of_different_tenants_never_collide(t1: str, t2: str, k1: str, k2: str) -> None:
    scheme = KeyScheme("cache")
    if t1 != t2:
        assert scheme.key(t1, k1) != scheme.key(t2, k2)
        assert not scheme.key(t1, k1).startswith(scheme.tenant_prefix(t2))


def test_platform_scope_differs_from_tenant_named_underscore() -> None:
    scheme = KeyScheme("rl")
    assert scheme.tenant_tag(None) != scheme.tenant_tag("_")


def test_key_layout_is_hash_tagged() -> None:
    assert KeyScheme("rl", "rp:").key("acme", "u", "42") == "rp:rl:{t==acme}:u:42"


@pytest.mark.parametrize("prefix", ["a b", "x*", "{p}", "a" * 80])
def test_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="key prefix"):
        KeyScheme("cache", prefix)


def _reference_escape(part: str) -> str:
    unsafe = set(":{}*?[]\\%")
    return "".join(
        "".join(f"%{b:02X}" for b in ch.encode())
        if ch in unsafe or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F
        else ch
        for ch in part
    )


@given(st.lists(ANY_TEXT, min_size=1, max_size=20))
def test_repeated_escapes_give_the_same_answer_as_the_first(parts: list[str]) -> None:
    # Repeats are answered from a memo: they must match the rule, first time and every time.
    for _ in range(3):
        assert [escape_key_part(p) for p in parts] == [_reference_escape(p) for p in parts]


def test_many_distinct_and_long_parts_are_still_escaped_correctly() -> None:
    parts = [f"user:{i}" for i in range(10_000)] + ["x:" * 500]
    assert [escape_key_part(p) for p in parts] == [_reference_escape(p) for p in parts]
    assert [escape_key_part(p) for p in parts[:10]] == [f"user%3A{i}" for i in range(10)]
