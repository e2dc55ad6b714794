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
