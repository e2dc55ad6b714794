"""Response headers and the 429 problem body, all computed from one :class:`Decision`.

* ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` / ``-Tier``: the seed's headers, for the most
  constraining policy (the one that refused longest, else the one with the least remaining).
  ``Reset`` is in whole seconds (delta, rounded up).
* ``RateLimit-Policy`` and ``RateLimit``: the IETF draft (draft-ietf-httpapi-ratelimit-headers)
  structured-field lists, one item per policy: ``"user.minute";q=60;w=60`` and
  ``"user.minute";r=59;t=1``.
* ``Retry-After`` (whole seconds, rounded up) on 429 and 503.
"""

from __future__ import annotations

import json
import math

from relaypoint_ratelimit.decision import Decision, PolicyState
from relaypoint_ratelimit.policies import Tier, TierSet

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE",
    "problem_body",
    "rate_limit_headers",
    "retry_after_seconds",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE = "https://docs.relaypoint.ai/ratelimit/#rate-limit-exceeded"
UNAVAILABLE_TYPE = "https://docs.relaypoint.ai/ratelimit/#fault-policies"


def _seconds(value: float) -> int:
    # Whole seconds, rounded up; a hair of float noise must not add a second.
    return math.ceil(value - 1e-9) if value > 0 else 0


def retry_after_seconds(decision: Decision) -> int:
    """``Retry-After`` in whole seconds (at least 1 for a refusal)."""
    return max(1, _seconds(decision.retry_after or 0.0))


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _policy_reset(policy: PolicyState) -> int:
    return _seconds(policy.retry_after if policy.retry_after is not None else policy.reset_after)


def _static_parts(decision: Decision) -> tuple[bytes, list[str]]:
    """The ``RateLimit-Policy`` value and the per-item prefixes of ``RateLimit`` (cached per plan)."""
    policy_set = decision.policy_set
    if policy_set is not None:
        cached: tuple[bytes, list[str]] | None = policy_set.derived.get("draft")
        if cached is not None:
            return cached
    policies = decision.policies_static()
    names = [_sf_string(name) for name, _, _ in policies]
    value = ", ".join(
        f"{quoted};q={limit};w={max(1, _seconds(seconds))}"
        for quoted, (_, limit, seconds) in zip(names, policies, strict=True)
    ).encode("latin-1")
    parts = (value, [f"{name};r=" for name in names])
    if policy_set is not None:
        policy_set.derived["draft"] = parts
    return parts


def _admitted_headers(decision: Decision, legacy: bool, draft: bool) -> list[tuple[bytes, bytes]]:
    """Headers of an admitted decision straight from the backend's raw answer (the hot path of
    every response): one pass, no per-policy objects."""
    raw = decision.raw
    assert raw is not None
    policy_set, values = raw
    now = decision.clock_us
    remaining: list[int] = []
    resets: list[int] = []
    best = 0
    best_reset_us = -1
    i = 0
    for k, (_, _, _, _, limit, _, window_us, bucket_us) in enumerate(policy_set):
        used = values[i]
        oldest = values[i + 1]
        i += 3
        left = limit - used if used < limit else 0
        reset_us = (oldest + 1) * bucket_us + window_us - now if oldest >= 0 else 0
        remaining.append(left)
        resets.append(-(-reset_us // 1_000_000) if reset_us > 0 else 0)
        if (
            k == 0
            or left < remaining[best]
            or (left == remaining[best] and reset_us > best_reset_us)
        ):
            best = k
            best_reset_us = reset_us
    headers: list[tuple[bytes, bytes]] = []
    if legacy:
        top = policy_set[best]
        headers.append((b"x-ratelimit-limit", str(top[4]).encode()))
        headers.append((b"x-ratelimit-remaining", str(remaining[best]).encode()))
        headers.append((b"x-ratelimit-reset", str(resets[best]).encode()))
        tier = top[2] or decision.tier
        if tier:
            headers.append((b"x-ratelimit-tier", tier.encode("latin-1")))
    if draft:
        policy_value, prefixes = _static_parts(decision)
        headers.append((b"ratelimit-policy", policy_value))
        state = ", ".join(
            f"{prefix}{left};t={reset}"
            for prefix, left, reset in zip(prefixes, remaining, resets, strict=True)
        )
        headers.append((b"ratelimit", state.encode("latin-1")))
    return headers


def rate_limit_headers(
    decision: Decision, *, legacy: bool = True, draft: bool = True
) -> list[tuple[bytes, bytes]]:
    """Every rate-limit header for ``decision`` as ASGI header pairs."""
    raw = decision.raw
    if decision.allowed and raw is not None and raw[0]:
        return _admitted_headers(decision, legacy, draft)
    headers: list[tuple[bytes, bytes]] = []
    policies = decision.policies
    if legacy:
        top = decision.most_constraining
        if top is not None:
            headers.append((b"x-ratelimit-limit", str(top.limit).encode()))
            headers.append((b"x-ratelimit-remaining", str(top.remaining).encode()))
            headers.append((b"x-ratelimit-reset", str(_policy_reset(top)).encode()))
        tier = (top.tier if top is not None and top.tier is not None else None) or decision.tier
        if tier:
            headers.append((b"x-ratelimit-tier", tier.encode("latin-1")))
    if draft and policies:
        policy_value, prefixes = _static_parts(decision)
        headers.append((b"ratelimit-policy", policy_value))
        state = ", ".join(
            f"{prefix}{p.remaining};t={_policy_reset(p)}"
            for prefix, p in zip(prefixes, policies, strict=True)
        )
        headers.append((b"ratelimit", state.encode("latin-1")))
    if not decision.allowed:
        headers.append((b"retry-after", str(retry_after_seconds(decision)).encode()))
    return headers


def _upgrade(decision: Decision, tiers: TierSet | None) -> dict[str, object] | None:
    if tiers is None:
        return None
    for policy in sorted(decision.violated, key=lambda p: -(p.retry_after or 0.0)):
        if policy.tier is None or policy.tier not in tiers:
            continue
        above: Tier | None = tiers.next_above(policy.tier)
        if above is None:
            continue
        who = "your organisation's plan" if policy.scope == "tenant" else "your plan"
        return {
            "tier": above.name,
            "current_tier": policy.tier,
            "scope": policy.scope,
            "limits": [
                {"window": w.name, "window_seconds": w.seconds, "limit": w.limit}
                for w in above.windows
            ],
            "message": f"Upgrade {who} from {policy.tier} to {above.name} for {above.describe()}.",
        }
    return None


def problem_body(
    decision: Decision, tiers: TierSet | None = None, *, instance: str | None = None
) -> bytes:
    """The ``application/problem+json`` body (RFC 9457) of a 429, or of a fail-closed 503."""
    retry = retry_after_seconds(decision)
    if decision.source == "fail_closed":
        body: dict[str, object] = {
            "type": UNAVAILABLE_TYPE,
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"Rate limiting is temporarily unavailable; retry in {retry} seconds.",
            "retry_after": retry,
        }
    else:
        violated = decision.violated
        names = (
            ", ".join(f"{p.name} ({p.limit} per {p.window})" for p in violated) or "a rate limit"
        )
        body = {
            "type": PROBLEM_TYPE,
            "title": "Too Many Requests",
            "status": 429,
            "detail": f"Rate limit exceeded: {names}. Retry in {retry} seconds.",
            "retry_after": retry,
            "tier": decision.tier,
            "violated_policies": [
                {
                    "name": p.name,
                    "scope": p.scope,
                    "tier": p.tier,
                    "window": p.window,
                    "window_seconds": p.window_seconds,
                    "limit": p.limit,
                    "used": p.used,
                    "retry_after": _seconds(p.retry_after or 0.0),
                }
                for p in violated
            ],
            "upgrade": _upgrade(decision, tiers),
        }
    if instance is not None:
        body["instance"] = instance
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
