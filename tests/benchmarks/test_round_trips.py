"""bench_wrk charges each Redis command to the component whose keys it touches, for both Redis
apps of the run (prefix ``rp:`` and the quota-leasing app's ``rpl:``)."""

from __future__ import annotations

import pytest
from benchmarks.bench_wrk import component_of


@pytest.mark.parametrize("prefix", ["rp:", "rpl:"])
@pytest.mark.parametrize(
    ("rest", "component"),
    [
        ("rl:u:acme:alice:60000000", "rate limit"),
        ("auth:revoked:jti", "revocation checks (auth)"),
        ("tenancy:plan:acme", "tenant and tier lookup"),
        ("cache:acme:workflows:wf1", "cache"),
    ],
)
def test_a_key_is_charged_to_its_component(prefix: str, rest: str, component: str) -> None:
    assert component_of(prefix + rest, "EVALSHA") == component


def test_keyless_and_unknown_commands_are_named() -> None:
    assert component_of(None, "PING") == "no key (PING)"
    assert component_of("elsewhere:x", "GET") == "other (GET elsewhere:x)"
