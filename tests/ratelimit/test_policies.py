"""Windows, tiers and route policies (``relaypoint_ratelimit.policies``) on their own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_ratelimit import RateLimitConfigurationError, RoutePolicy, TierSet, Window
from relaypoint_ratelimit.errors import UnknownTierError
from relaypoint_ratelimit.policies import (
    DEFAULT_BUCKETS,
    DEFAULT_TIERS,
    MAX_BUCKETS,
    Tier,
    default_buckets,
    parse_windows,
)

UNITS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400}


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=10**9),
    count=st.integers(min_value=1, max_value=12),
    unit=st.sampled_from(sorted(UNITS)),
)
def test_window_text_round_trips(limit: int, count: int, unit: str) -> None:
    window = Window.parse(f"{limit}/{count}{unit}")
    assert window.limit == limit
    assert window.seconds == count * UNITS[unit]
    assert 1 <= window.buckets <= MAX_BUCKETS
    # A reset is at most one bucket late, and the buckets cover the whole window.
    assert window.precision * window.buckets >= window.seconds
    assert window.precision <= window.seconds


@settings(max_examples=60, deadline=None)
@given(seconds=st.floats(min_value=1e-3, max_value=366 * 86_400))
def test_default_buckets_stay_bounded(seconds: float) -> None:
    buckets = default_buckets(seconds)
    assert 1 <= buckets <= MAX_BUCKETS
    if seconds <= 3_600:
        assert buckets == DEFAULT_BUCKETS


@pytest.mark.parametrize(
    "text", ["", "0/minute", "-1/minute", "10/fortnight", "ten/minute", "10/0minute"]
)
def test_bad_window_text_is_refused_clearly(text: str) -> None:
    with pytest.raises(RateLimitConfigurationError):
        parse_windows(text)


def test_windows_must_differ_by_name_and_layout() -> None:
    assert [w.limit for w in parse_windows("60/minute; 1000/hour")] == [60, 1000]
    with pytest.raises(RateLimitConfigurationError):
        parse_windows("60/minute; 100/minute")
    with pytest.raises(RateLimitConfigurationError):
        Window(10, 60, buckets=MAX_BUCKETS + 1)
    with pytest.raises(RateLimitConfigurationError):
        Window(10, 60, name="not a name")


def test_the_seeds_tiers_are_ordered_for_the_upgrade_prompt() -> None:
    assert DEFAULT_TIERS.names == ["FREE", "STARTER", "PROFESSIONAL", "ENTERPRISE"]
    assert DEFAULT_TIERS.get("free").describe() == "60 per minute, 1000 per hour, 10000 per day"
    upgrade = DEFAULT_TIERS.next_above("FREE")
    assert upgrade is not None
    assert upgrade.name == "STARTER"
    assert DEFAULT_TIERS.next_above("enterprise") is None
    assert "Pro" not in DEFAULT_TIERS
    assert "professional" in DEFAULT_TIERS


def test_tier_names_are_case_insensitive_and_unique() -> None:
    tiers = TierSet.from_mapping({"free": "5/minute", "Pro": ["50/minute", "500/hour"]})
    assert tiers.normalise("PRO") == "PRO"
    assert len(tiers.all_windows()) == 2  # 5/minute and 50/minute share one layout
    with pytest.raises(UnknownTierError):
        tiers.get("gold")
    with pytest.raises(RateLimitConfigurationError):
        TierSet([Tier("A", "1/second"), Tier("a", "2/second")])
    with pytest.raises(RateLimitConfigurationError):
        TierSet([])


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/upload", True),
        ("post", "/api/upload/big", True),
        ("POST", "/api/uploads", False),
        ("GET", "/api/upload", False),
    ],
)
def test_route_policies_match_whole_path_segments(method: str, path: str, expected: bool) -> None:
    policy = RoutePolicy("uploads", "10/minute", path_prefixes=["/api/upload"], methods=["POST"])
    assert policy.matches(method, path) is expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"per": "org"},
        {"cost": 0},
        {"cost": True},
        {"path_prefixes": ["api/upload"]},
    ],
)
def test_bad_route_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(RateLimitConfigurationError):
        RoutePolicy("uploads", "10/minute", **kwargs)  # type: ignore[arg-type]
