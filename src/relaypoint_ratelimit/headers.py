"""Response headers and the problem bodies of 429 and 503, all computed from one ``Decision``.

* ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-11 by default):
  structured-field lists with one item per enforced policy, ``"user.minute";q=60;w=60`` and
  ``"user.minute";r=59;t=1``. ``q`` and ``r`` count cost units: a request of cost ``n`` consumes
  ``n`` units of every window it is counted in (with cost 1 everywhere, units are requests).
  ``syntax="draft-12"`` writes the renamed parameters of the next draft (``a`` for ``r``, ``w``
  for ``t``).
* ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` / ``-Tier``: the seed's headers, for the most
  constraining policy (the one that refused longest, else the one with the least remaining).
  ``Reset`` is in whole seconds (delta, rounded up).
* ``Retry-After`` (whole seconds, rounded up) on 429 and 503.

Shadow policies never appear in any header, and a decision taken without the backend (fail-open)
has none at all: there is nothing true to say about the limits then.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Literal

from relaypoint_core.problem import PROBLEM_CONTENT_TYPE
from relaypoint_ratelimit.decision import Decision, PolicySet, PolicyState
from relaypoint_ratelimit.errors import RateLimitConfigurationError
from relaypoint_ratelimit.policies import Tier, TierSet

__all__ = [
    "HEADER_SYNTAXES",
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE",
    "UNAVAILABLE_TYPE",
    "HeaderSyntax",
    "problem_body",
    "rate_limit_headers",
    "retry_after_seconds",
]

PROBLEM_TYPE = "https://iana.org/assignments/http-problem-types#quota-exceeded"
UNAVAILABLE_TYPE = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"

HeaderSyntax = Literal["draft-11", "draft-12"]
HEADER_SYNTAXES: dict[str, tuple[str, str]] = {"draft-11": ("r", "t"), "draft-12": ("a", "w")}
"""Per syntax, the ``RateLimit`` parameter names of the remaining units and of the reset time."""


def _params(syntax: str) -> tuple[str, str]:
    params = HEADER_SYNTAXES.get(syntax)
    if params is None:
        raise RateLimitConfigurationError(
            f"header syntax must be one of {', '.join(HEADER_SYNTAXES)}, not {syntax!r}"
        )
    return params


def _seconds(value: float) -> int:
    # Whole seconds, rounded up; a hair of float noise must not add a second.
    return math.ceil(value - 1e-9) if value > 0 else 0


def retry_after_seconds(decision: Decision) -> int:
    """``Retry-After`` in whole seconds.

    Args:
        decision: A refused decision.

    Returns:
        The retry time rounded up, at least 1.
    """
    return max(1, _seconds(decision.retry_after or 0.0))


def _sf_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _policy_reset(policy: PolicyState) -> int:
    return _seconds(policy.retry_after if policy.retry_after is not None else policy.reset_after)


def _static_parts(decision: Decision, syntax: str) -> tuple[bytes, list[str]]:
    """The ``RateLimit-Policy`` value and the per-item prefixes of ``RateLimit`` (cached per plan)."""
    policy_set = decision.policy_set
    key = ("draft", syntax)
    if policy_set is not None:
        cached: tuple[bytes, list[str]] | None = policy_set.derived.get(key)
        if cached is not None:
            return cached
    remaining = _params(syntax)[0]
    policies = decision.policies_static()
    names = [_sf_string(name) for name, _, _ in policies]
    value = ", ".join(
        f"{quoted};q={limit};w={max(1, _seconds(seconds))}"
        for quoted, (_, limit, seconds) in zip(names, policies, strict=True)
    ).encode("latin-1")
    parts = (value, [f"{name};{remaining}=" for name in names])
    if policy_set is not None:
        policy_set.derived[key] = parts
    return parts


_WHOLE_SECOND = 1_000_000


class _HeaderPlan:
    """What the headers of an admitted decision need of its policy set, worked out once per plan
    (per tier and syntax): per enforced policy its offset in the backend's values, limit, bucket
    length, window + bucket length, and its ``X-RateLimit-Limit`` and ``-Tier`` values as bytes;
    the ``RateLimit-Policy`` value, and the ``RateLimit`` value as a bytes template.

    ``seconds`` holds the same items with the lengths in whole seconds, when every one is (the
    usual case): a reset instant ``E`` whole seconds into the clock is ``E - now // 10**6``
    seconds away, rounded up, so a response needs no division per policy.
    """

    __slots__ = ("items", "policy", "seconds", "template")

    def __init__(self, policy_set: PolicySet, tier: str | None, policy: bytes, syntax: str) -> None:
        enforced = [(3 * i, s) for i, s in enumerate(policy_set) if not s[8]]
        # Per policy: offsets of its used count and oldest bucket in the values, limit, bucket
        # length, window + bucket length, then its X-RateLimit-Limit and -Tier values.
        self.items = tuple(
            (
                offset,
                offset + 1,
                static[4],
                static[7],
                static[6] + static[7],
                (str(static[4]).encode(), (static[2] or tier or "").encode("latin-1") or None),
            )
            for offset, static in enforced
        )
        whole = all(
            bucket_us % _WHOLE_SECOND == 0 and span % _WHOLE_SECOND == 0
            for _, _, _, bucket_us, span, _ in self.items
        )
        self.seconds = (
            tuple(
                (i, j, limit, bucket_us // _WHOLE_SECOND, span // _WHOLE_SECOND, fixed)
                for i, j, limit, bucket_us, span, fixed in self.items
            )
            if whole
            else None
        )
        self.policy = policy
        remaining, reset = _params(syntax)
        self.template = ", ".join(
            _sf_string(static[0]).replace("%", "%%") + f";{remaining}=%d;{reset}=%d"
            for _, static in enforced
        ).encode("latin-1")


_Item = tuple[int, int, int, int, int, tuple[bytes, bytes | None]]


def _exact_state(
    items: tuple[_Item, ...], values: Sequence[int], now: int
) -> tuple[list[int], tuple[bytes, bytes | None], int, int]:
    """``RateLimit``'s numbers (remaining, reset per policy) and the most constraining policy's
    legacy values, remaining and reset, in microseconds (any window and bucket lengths)."""
    state: list[int] = []
    best = items[0][5]
    best_left = best_reset = best_reset_us = -1
    for i, j, limit, bucket_us, span, fixed in items:
        used = values[i]
        oldest = values[j]
        left = limit - used if used < limit else 0
        reset_us = oldest * bucket_us + span - now if oldest >= 0 else 0
        reset = -(-reset_us // 1_000_000) if reset_us > 0 else 0
        state += (left, reset)
        if best_left < 0 or left < best_left or (left == best_left and reset_us > best_reset_us):
            best, best_left, best_reset, best_reset_us = fixed, left, reset, reset_us
    return state, best, best_left, best_reset


def _admitted_headers(
    decision: Decision,
    policy_set: PolicySet,
    values: Sequence[int],
    legacy: bool,
    draft: bool,
    syntax: str,
) -> list[tuple[bytes, bytes]]:
    """Headers of an admitted decision straight from the backend's raw answer (the hot path of
    every response): one pass, no per-policy objects, fixed parts prepared per plan."""
    key = ("headers", decision.tier, syntax)
    plan: _HeaderPlan | None = policy_set.derived.get(key)
    if plan is None:
        plan = policy_set.derived[key] = _HeaderPlan(
            policy_set, decision.tier, _static_parts(decision, syntax)[0], syntax
        )
    now = decision.clock_us
    seconds = plan.seconds
    if seconds:
        # Whole seconds (see _HeaderPlan): the same numbers as _exact_state, and the same choice
        # of policy, since for live buckets (oldest >= 0) a later reset instant in seconds is a
        # later one in microseconds.
        now_s = now // _WHOLE_SECOND
        state: list[int] = []
        best = seconds[0][5]
        best_left = best_reset = -1
        for i, j, limit, bucket_s, span_s, fixed in seconds:
            oldest = values[j]
            if oldest < 0:  # nothing counted in this window: reset 0, leave it to the exact pass
                state, best, best_left, best_reset = _exact_state(plan.items, values, now)
                break
            used = values[i]
            left = limit - used if used < limit else 0
            reset = oldest * bucket_s + span_s - now_s
            state += (left, reset if reset > 0 else 0)
            if best_left < 0 or left < best_left or (left == best_left and reset > best_reset):
                best, best_left, best_reset = fixed, left, reset
        if best_reset < 0:
            best_reset = 0
    elif plan.items:
        state, best, best_left, best_reset = _exact_state(plan.items, values, now)
    else:
        return []
    if legacy:
        tier = best[1]
        if draft and tier is not None:
            return [
                (b"x-ratelimit-limit", best[0]),
                (b"x-ratelimit-remaining", b"%d" % best_left),
                (b"x-ratelimit-reset", b"%d" % best_reset),
                (b"x-ratelimit-tier", tier),
                (b"ratelimit-policy", plan.policy),
                (b"ratelimit", plan.template % tuple(state)),
            ]
        headers = [
            (b"x-ratelimit-limit", best[0]),
            (b"x-ratelimit-remaining", b"%d" % best_left),
            (b"x-ratelimit-reset", b"%d" % best_reset),
        ]
        if tier is not None:
            headers.append((b"x-ratelimit-tier", tier))
        if not draft:
            return headers
    else:
        headers = []
        if not draft:
            return headers
    headers += (
        (b"ratelimit-policy", plan.policy),
        (b"ratelimit", plan.template % tuple(state)),
    )
    return headers


def rate_limit_headers(
    decision: Decision,
    *,
    legacy: bool = True,
    draft: bool = True,
    syntax: HeaderSyntax | str = "draft-11",
) -> list[tuple[bytes, bytes]]:
    """Every rate-limit header for ``decision`` as ASGI header pairs.

    Args:
        decision: The decision of the request.
        legacy: Whether to write the seed's ``X-RateLimit-*`` headers.
        draft: Whether to write the IETF draft's ``RateLimit-Policy`` and ``RateLimit``.
        syntax: ``"draft-11"`` (default) or ``"draft-12"`` parameter names.

    Returns:
        The header pairs; none for a fail-open decision or one with only shadow policies
        (``Retry-After`` excepted on a refusal).

    Raises:
        RateLimitConfigurationError: ``syntax`` is not a known draft.
    """
    raw = decision.raw
    if decision.allowed and raw is not None and raw[0]:
        return _admitted_headers(decision, raw[0], raw[1], legacy, draft, syntax)
    headers: list[tuple[bytes, bytes]] = []
    if decision.source == "fail_open":
        return headers
    policies = decision.enforced
    if legacy:
        top = decision.most_constraining
        if top is not None:
            headers.append((b"x-ratelimit-limit", str(top.limit).encode()))
            headers.append((b"x-ratelimit-remaining", str(top.remaining).encode()))
            headers.append((b"x-ratelimit-reset", str(_policy_reset(top)).encode()))
            tier = top.tier or decision.tier
            if tier:
                headers.append((b"x-ratelimit-tier", tier.encode("latin-1")))
    if draft and policies:
        policy_value, prefixes = _static_parts(decision, syntax)
        reset = _params(syntax)[1]
        state = ", ".join(
            f"{prefix}{p.remaining};{reset}={_policy_reset(p)}"
            for prefix, p in zip(prefixes, policies, strict=True)
        )
        headers.append((b"ratelimit-policy", policy_value))
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
    """The ``application/problem+json`` body (RFC 9457) of a 429, or of a fail-closed 503.

    A 429 has the draft's ``quota-exceeded`` type and ``violated-policies`` (the names of the
    policies that refused); ``retry_after``, ``tier``, ``violated_policies`` (one object per
    policy, with its scope, window, limit and use) and ``upgrade`` are RelayPoint's extensions.
    A fail-closed 503 has the ``temporary-reduced-capacity`` type.

    Args:
        decision: The refused decision.
        tiers: The configured tiers, for the upgrade prompt.
        instance: The request path.

    Returns:
        The JSON body as bytes.
    """
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
            "violated-policies": [p.name for p in violated],
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
